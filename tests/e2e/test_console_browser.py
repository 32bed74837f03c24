"""The staff console in a real headless Chromium (Debian's), on a phone-sized screen, against the real app.

Playwright drives /usr/bin/chromium; nothing is downloaded. Without that binary these
tests skip, unless AFTERSALES_REQUIRE_BROWSER=1 (CI), where a missing browser fails them.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.web.console.passwords import set_password
from storage.models import Conversation, Escalation
from storage.repos import staff as staff_repo
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background connections (updates, sync, QUIC probes) are refused on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
ACME_CHAT = 5550001
PASSWORD = "correct horse battery"
SHOTS = Path("/tmp")


def _browser_or_skip() -> None:
    missing = None
    if not os.access(CHROMIUM, os.X_OK):
        missing = f"{CHROMIUM} not installed (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing:
        if os.environ.get("AFTERSALES_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {missing}")
        pytest.skip(missing)


def png(width: int, height: int) -> bytes:
    """A real PNG (stripes), so the browser has something to decode and size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\0" + b"".join(bytes((200, 40, 40) if (x // 10) % 2 else (40, 80, 200)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest_asyncio.fixture
async def phone() -> AsyncIterator[Any]:
    """A phone-sized page in a fresh browser context."""
    _browser_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        page = await context.new_page()
        page.set_default_timeout(15_000)
        yield page
        await context.close()
        await browser.close()


async def staff_li(h: BotHarness) -> None:
    async with h.db.write() as s:
        await staff_repo.upsert(s, "li", name="Li Wei", roles=["qc"])
    await set_password(h.db, "li", PASSWORD, actor="test")


async def sign_in(page: Any, h: BotHarness, path: str) -> None:
    await page.goto(str(h.server.make_url(path)))
    assert "/console/login" in page.url  # not signed in yet: sent to the login form
    await page.fill("input[name=username]", "li")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_url(f"**{path}")


async def fits_the_screen(page: Any) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone screen"


async def test_staff_reads_photo_and_replies_from_a_phone(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, phone: Any
) -> None:
    await staff_li(tg_bot)
    photo = png(240, 160)
    fake_telegram.add_file("STRAP1", photo)
    await tg_bot.post_telegram(
        message_update(
            ACME_CHAT, caption="The strap tore off, see photo", photo_file_id="STRAP1", photo_size=len(photo)
        )
    )
    await fake_telegram.wait_sent(1)
    await tg_bot.settled()

    await sign_in(phone, tg_bot, "/console/conversations")
    await fits_the_screen(phone)
    await phone.screenshot(path=str(SHOTS / "console-conversations.png"), full_page=True)
    await phone.click("text=Anna")
    await phone.wait_for_url("**/console/conversations/*")
    assert await phone.is_visible("text=The strap tore off, see photo")
    img = phone.locator(".msg.in img").first
    await img.wait_for()
    await phone.wait_for_function(
        "() => { const i = document.querySelector('.msg.in img'); return i && i.complete; }"
    )
    assert await img.evaluate("i => i.naturalWidth") == 240  # the real photo, decoded, via the signed link
    await fits_the_screen(phone)

    reply = "Sorry about that, Anna. A replacement strap ships Friday. 周五寄出。"
    await phone.fill("textarea[name=text]", reply)
    await phone.screenshot(path=str(SHOTS / "console-conversation.png"), full_page=False)
    await phone.click("button:has-text('Send')")
    await phone.wait_for_url("**done=sent")
    assert await phone.is_visible("text=Reply queued")
    await fake_telegram.wait_for(lambda f: reply in f.texts_to(ACME_CHAT))
    await tg_bot.settled()
    assert fake_telegram.texts_to(ACME_CHAT).count(reply) == 1
    await phone.reload()
    assert (
        await phone.locator(".msg.out", has_text="replacement strap").locator(".badge").inner_text() == "sent"
    )
    await phone.screenshot(path=str(SHOTS / "console-replied.png"), full_page=False)
    async with tg_bot.db.read() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "with_staff" and conv.assigned_staff == "li"


async def test_staff_acknowledges_an_escalation_from_a_phone(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, phone: Any
) -> None:
    await staff_li(tg_bot)
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="URGENT the whole shipment is mouldy"))
    await fake_telegram.wait_sent(1)
    await tg_bot.settled()
    async with tg_bot.db.write() as s:
        # the urgent observer opened ESC-000001 for the message above; add a resolved one below it
        s.add(Escalation(reason="handoff", policy="default", state="resolved", resolved_by="tom"))

    await sign_in(phone, tg_bot, "/console/escalations")
    await fits_the_screen(phone)
    await phone.screenshot(path=str(SHOTS / "console-escalations.png"), full_page=True)
    first = phone.locator("ul.list li").first
    assert "ESC-000001" in await first.inner_text()  # the open one is on top
    await first.locator("button:has-text('Acknowledge')").click()
    await phone.wait_for_url("**done=acked")
    assert await phone.is_visible("text=Acknowledged")
    assert await phone.locator("button:has-text('Acknowledge')").count() == 0
    assert "acknowledged by li" in await phone.locator("#esc-1").inner_text()
    async with tg_bot.db.read() as s:
        esc = await s.get(Escalation, 1)
    assert esc is not None and esc.state == "acknowledged" and esc.acknowledged_by == "li"


async def test_an_uploaded_html_file_downloads_and_runs_no_script_on_the_console_origin(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, phone: Any
) -> None:
    await staff_li(tg_bot)
    evil = b"<html><script>localStorage.setItem('pwned', document.cookie || 'ran')</script>invoice</html>"
    fake_telegram.add_file("INV1", evil)
    document = {
        "file_id": "INV1",
        "file_unique_id": "inv",
        "file_name": "invoice.html",
        "mime_type": "text/html",
        "file_size": len(evil),
    }
    await tg_bot.post_telegram(message_update(ACME_CHAT, caption="our invoice", document=document))
    await fake_telegram.wait_sent(1)
    await tg_bot.settled()

    await sign_in(phone, tg_bot, "/console/conversations")
    await phone.click("text=Anna")
    await phone.wait_for_url("**/console/conversations/*")
    conversation = phone.url
    async with phone.expect_download() as download_info:
        await phone.click("a:has-text('invoice.html')")
    download = await download_info.value
    assert download.suggested_filename == "invoice.html"
    assert Path(await download.path()).read_bytes() == evil  # the file, as a file
    assert phone.url == conversation  # never rendered as a page of the console's origin
    assert await phone.evaluate("localStorage.getItem('pwned')") is None


async def test_demo_staff_signs_in_with_the_demo_password_and_logging_out_ends_it(
    harness_factory: Any, tmp_path: Path, db_url: str, phone: Any
) -> None:
    """The README's demo login, in the sandbox; after Log out the browser's old cookie opens nothing."""
    from dataclasses import replace

    from bot.tools.demo import seed
    from bot.web.console.passwords import DEMO_PASSWORD
    from config.settings import ServerSettings
    from tests.conftest import ADMIN_TOKEN, make_settings

    settings = replace(
        make_settings(tmp_path, db_url), server=ServerSettings(admin_token=ADMIN_TOKEN, sandbox=True)
    )
    h = await harness_factory(settings)
    await seed(h.db, sandbox=True)
    await phone.goto(str(h.server.make_url("/console/claims")))
    await phone.fill("input[name=username]", "li")
    await phone.fill("input[name=password]", DEMO_PASSWORD)
    await phone.click("button:has-text('Sign in')")
    await phone.wait_for_url("**/console/claims")
    cookies = {c["name"]: c["value"] for c in await phone.context.cookies()}
    old = cookies["aftersales_console"]
    await phone.click("button[title='Log out']")
    await phone.wait_for_url("**/console/login?done=out")
    assert await phone.is_visible("text=Logged out")
    # put the old cookie back, as someone who copied it would
    await phone.context.add_cookies(
        [{"name": "aftersales_console", "value": old, "domain": "127.0.0.1", "path": "/console"}]
    )
    await phone.goto(str(h.server.make_url("/console/claims")))
    assert "/console/login" in phone.url
