"""`/media/{token}`: signed names, and nothing a sender uploads ever runs on the console's origin.

Email attachments go the whole way: APPENDed to a real Dovecot mailbox, stored by the bot,
linked in the console a staff member is logged in to, and fetched through the real route.
The signer itself gets property tests.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core.media import EXPIRY_STEP, MediaLinks, safe_name
from storage.models import AttachmentRow, Conversation
from tests.bot.web.console.test_views import add_staff, login
from tests.channels.test_email import ACME, JPEG, email_settings, mail
from tests.conftest import BotHarness, make_settings, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture  # noqa: F401  (fixture)
from tests.fakes.smtp import FakeSmtp

CSP = "sandbox; default-src 'none'"
DISGUISED = b'<html><body onload="alert(3)">not a photo</body></html>'
HTML = b"<!doctype html><html><body><script>fetch('/console/')</script>invoice</body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def assert_hardened(resp: Any) -> None:
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == CSP


def assert_download(resp: Any, name: str) -> None:
    assert resp.status == 200
    assert_hardened(resp)
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'


# ---- through the console, from a real mailbox ----------------------------------------------------------


async def _email_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> BotHarness:
    from bot.tools.demo import seed
    from channels.email import EmailAdapter

    settings = make_settings(tmp_path, db_url, email=email_settings(dovecot, smtp))
    h: BotHarness = await harness_factory(settings)
    await seed(h.db)
    adapter = h.runtime.adapters["email"]
    assert isinstance(adapter, EmailAdapter)

    async def connected() -> bool:
        return adapter.connected_once.is_set()

    await wait_until(connected, 15)
    return h


async def _console_links(h: BotHarness) -> dict[str, str]:
    """Every /media link on the conversation page, by the file name it was stored under."""
    async with h.db.read() as s:
        conv_id = (await s.execute(select(Conversation.id))).scalars().first()
        names = {a.sha256: a.filename for a in (await s.execute(select(AttachmentRow))).scalars()}
    await add_staff(h)
    await login(h)
    page = await (await h.client.get(f"/console/conversations/{conv_id}")).text()
    links: dict[str, str] = {}
    for url in set(re.findall(r'(?:href|src)="(/media/[^"]+)"', page)):
        sha = url.removeprefix("/media/").split(".", 1)[0]
        links[str(names[sha])] = url
    return links


async def test_uploaded_html_and_svg_are_downloads_a_jpeg_is_inline_and_names_are_signed(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await _email_bot(harness_factory, tmp_path, db_url, dovecot, smtp)
    files = [
        ("text/html", "invoice.html", HTML),
        ("image/svg+xml", "photo.svg", SVG),
        ("image/jpeg", "disguised.jpg", DISGUISED),  # a declared type and name are the sender's word only
        ("image/jpeg", "IMG_0001.jpg", JPEG),
    ]
    raw, _ = mail("invoice and photos attached", files=files)
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    await h.settled()
    links = await _console_links(h)
    assert set(links) == {"invoice.html", "photo.svg", "disguised.jpg", "IMG_0001.jpg"}

    for name, body in (("invoice.html", HTML), ("photo.svg", SVG), ("disguised.jpg", DISGUISED)):
        resp = await h.client.get(links[name])
        assert_download(resp, name)
        assert await resp.read() == body

    photo = await h.client.get(links["IMG_0001.jpg"])
    assert photo.status == 200 and await photo.read() == JPEG
    assert_hardened(photo)
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert photo.headers["Content-Disposition"] == 'inline; filename="IMG_0001.jpg"'

    jpeg, html = links["IMG_0001.jpg"], links["invoice.html"]
    for tampered in (
        jpeg + ".evil.html",  # appended after the signed name
        jpeg.replace("IMG_0001.jpg", "IMG_0001.html"),  # renamed
        html.replace("invoice.html", "invoice.pdf"),
        jpeg.rsplit(".IMG_0001.jpg", 1)[0],  # name dropped
        jpeg.rsplit(".IMG_0001.jpg", 1)[0] + ".x.html",
    ):
        resp = await h.client.get(tampered)
        assert resp.status == 404, tampered
        assert_hardened(resp)
        assert b"script" not in await resp.read()


async def test_conversation_page_shows_only_allow_listed_images_inline(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await _email_bot(harness_factory, tmp_path, db_url, dovecot, smtp)
    raw, _ = mail("two pictures", files=[("image/svg+xml", "logo.svg", SVG), ("image/png", "p.png", PNG)])
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    await h.settled()
    links = await _console_links(h)
    async with h.db.read() as s:
        conv_id = (await s.execute(select(Conversation.id))).scalars().first()
    page = await (await h.client.get(f"/console/conversations/{conv_id}")).text()
    assert f'<img src="{links["p.png"]}"' in page
    assert f'<img src="{links["logo.svg"]}"' not in page and f'href="{links["logo.svg"]}"' in page
    png = await h.client.get(links["p.png"])
    assert png.headers["Content-Type"] == "image/png"
    assert png.headers["Content-Disposition"] == 'inline; filename="p.png"'


# ---- the route on its own -------------------------------------------------------------------------------


async def test_route_refuses_expired_forged_and_malformed_tokens_with_404(tg_bot: BotHarness) -> None:
    links: MediaLinks = tg_bot.runtime.links
    sha, _path, _ = await tg_bot.runtime.store.save_bytes(b"%PDF-1.4 packing list")
    good = links.token(sha, filename="PL.pdf")
    resp = await tg_bot.client.get(f"/media/{good}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"  # positive control
    assert resp.headers["Content-Disposition"] == 'inline; filename="PL.pdf"'
    assert_hardened(resp)
    expired = links.token(sha, filename="PL.pdf", now=time.time() - 2 * links.ttl)
    other_key = MediaLinks(links.root, links.public_url, "another-admin-token", links.ttl).token(sha)
    sha_part, exp_part, sig_part, _name = good.split(".", 3)
    forged = [
        expired,
        other_key,
        f"{sha_part}.{int(exp_part) + 86_400}.{sig_part}.PL.pdf",  # extended
        f"{sha_part}.{exp_part}.{'0' * 32}.PL.pdf",
        f"{hashlib.sha256(b'other').hexdigest()}.{exp_part}.{sig_part}.PL.pdf",
        "x" * 5000,
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"{sha_part}.{exp_part}.{sig_part}.%00.html",
        f"{sha_part}.{'9' * 40}.{sig_part}",
    ]
    for token in forged:
        resp = await tg_bot.client.get(f"/media/{token}")
        assert resp.status == 404, token
        assert_hardened(resp)


async def test_non_ascii_names_are_signed_and_sent_as_rfc_6266(tg_bot: BotHarness) -> None:
    sha, _path, _ = await tg_bot.runtime.store.save_bytes("%PDF-1.4 发票".encode())
    resp = await tg_bot.client.get("/media/" + tg_bot.runtime.links.token(sha, filename="发票 2026.pdf"))
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"___2026.pdf\"; filename*=UTF-8''%E5%8F%91%E7%A5%A8_2026.pdf"
    )


# ---- the signer's properties ----------------------------------------------------------------------------

SHA = st.text("0123456789abcdef", min_size=64, max_size=64)
NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=120)
LINK_NAME = st.from_regex(r"\A[\w.-]{1,100}\Z")
NOW = st.integers(min_value=0, max_value=4_000_000_000)


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def _stored(root: Path, sha: str) -> Path:
    path = root / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def _signer(root: Path) -> MediaLinks:
    return MediaLinks(root, "https://bot.example", "admin-token-for-properties", ttl_seconds=3600)


@settings(max_examples=200, deadline=None)
@given(sha=SHA, name=NAME, now=NOW)
def test_a_token_resolves_to_its_file_and_signed_name(root: Path, sha: str, name: str, now: int) -> None:
    links = _signer(root)
    path = _stored(root, sha)
    token = links.token(sha, filename=name, now=now)
    assert links.resolve(token, now=now) == (path, safe_name(name) or None)
    assert links.resolve(token, now=now + 3600 + EXPIRY_STEP + 1) is None  # expired (ttl, rounded up)


@settings(max_examples=300, deadline=None)
@given(
    sha=SHA,
    other_sha=SHA,
    name=NAME,
    other_name=LINK_NAME,
    now=NOW,
    delta=st.integers(1, 10**9),
    data=st.data(),
)
def test_changing_the_file_name_or_expiry_breaks_the_signature(
    root: Path, sha: str, other_sha: str, name: str, other_name: str, now: int, delta: int, data: Any
) -> None:
    links = _signer(root)
    _stored(root, sha)
    _stored(root, other_sha)
    token = links.token(sha, filename=name, now=now)
    tok_sha, expires, sig, *rest = token.split(".", 3)
    signed_name = rest[0] if rest else ""
    suffix = f".{signed_name}" if signed_name else ""
    changed: list[str] = []
    if other_sha != tok_sha:
        changed.append(f"{other_sha}.{expires}.{sig}{suffix}")
    later = int(expires) + data.draw(st.sampled_from([delta, -min(delta, int(expires))]))
    if later != int(expires):
        changed.append(f"{tok_sha}.{later}.{sig}{suffix}")
    if other_name != signed_name:
        changed.append(f"{tok_sha}.{expires}.{sig}.{other_name}")
    if signed_name:
        changed.append(f"{tok_sha}.{expires}.{sig}")  # name dropped
    for bad in changed:
        assert links.resolve(bad, now=0) is None, bad


@settings(max_examples=500, deadline=None)
@given(
    token=st.one_of(
        st.text(),
        st.builds(
            lambda s, e, g, n: f"{s}.{e}.{g}{n}",
            SHA,
            st.text("0123456789", min_size=1, max_size=14),
            st.text("0123456789abcdef", min_size=32, max_size=32),
            st.one_of(st.just(""), st.text().map(lambda t: "." + t)),
        ),
    )
)
def test_arbitrary_tokens_never_raise_and_are_rejected(root: Path, token: str) -> None:
    assert _signer(root).resolve(token) is None
