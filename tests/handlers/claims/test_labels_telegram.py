"""The carton names its order, through the real Telegram route (PTB client, fake Bot API, real Tesseract).

A label of the client's own order links the claim and the client is told; a label of
another client's order is stored as read but to the client looks exactly like a label
without any number; without Tesseract /healthz says OCR is off and claims work as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.i18n import available_languages
from bot.tools.demo import seed
from config.settings import ClaimsSettings
from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    QC_CHAT,
    audit_actions,
    jpeg,
    one_claim,
    photo,
    say,
    seed_orders,
    seed_staff,
    send_photo,
)
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram
from tests.label_fixtures import carton_label, need_tesseract

SLOW = 90.0  # seconds to settle: Tesseract takes a few seconds a photo on a busy machine
CAPTION = "zipper broken on 3 pcs, goods unused"
FOUND = "We found order PO-2026-0117 on the carton label."


async def label_bot(
    factory: Any, tmp_path: Path, db_url: str, fake: FakeTelegram, claims: ClaimsSettings
) -> Any:
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake), claims=claims)
    bot = await factory(settings)
    await seed(bot.db)
    await seed_orders(bot.db)  # acme: PO-2026-0117 (BP-220), PO-2026-0123; hailang: PO-2026-0200
    await seed_staff(bot.db)
    return bot


@pytest_asyncio.fixture
async def ocr_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram) -> Any:
    need_tesseract()
    return await label_bot(harness_factory, tmp_path, db_url, fake_telegram, ClaimsSettings())


def client_view(fake: FakeTelegram, chat: int) -> list[tuple[str, Any]]:
    """Everything the client saw: each message's text and its buttons."""
    return [
        (str(c.params.get("text") or c.params.get("caption") or ""), c.params.get("reply_markup"))
        for c in fake.sent()
        if str(c.params.get("chat_id")) == str(chat)
    ]


async def send_label(
    bot: BotHarness, fake: FakeTelegram, chat: int, seed_: int, order: str | None, **kw: Any
) -> None:
    await send_photo(bot, fake, chat, jpeg(carton_label(seed_, order), quality=85), file_id=f"L{seed_}", **kw)
    await bot.settled(SLOW)


async def test_a_label_of_the_clients_own_order_links_the_claim(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    need_tesseract()
    bot = await label_bot(harness_factory, tmp_path, any_db_url, fake_telegram, ClaimsSettings())
    health = await (await bot.client.get("/healthz")).json()
    assert health["details"]["ocr"] == "on"

    await send_label(bot, fake_telegram, ACME_CHAT, 11, "PO-2026-0117", caption=CAPTION)  # no order named

    claim = await one_claim(bot.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected) == ("PO-2026-0117", "BP-220", 3)
    assert claim.order_id is not None
    found, opened = fake_telegram.texts_to(ACME_CHAT)
    assert found == FOUND and claim.number in opened and "could not match" not in opened
    page = " ".join(fake_telegram.texts_to(QC_CHAT))
    assert "PO-2026-0117" in page and "BP-220" in page  # QC see the order as if the client had typed it

    body = await (await bot.api("GET", f"/api/claims/{claim.number}")).json()
    assert body["order"] == "PO-2026-0117" and body["order_known"] is True
    [ev] = body["evidence"]
    assert "0117" in ev["ocr_text"] and "CHINA" in ev["ocr_text"].upper()
    assert ev["ocr"]["order"] == "PO-2026-0117" and "PO20260117" in ev["ocr"]["orders"]
    assert "BP-220" in ev["ocr"]["skus"] and "12/100" in ev["ocr"]["cartons"]


async def test_another_clients_order_on_the_label_looks_like_no_number(
    ocr_bot: Any, fake_telegram: FakeTelegram
) -> None:
    # The control: a label without any order number.
    await send_label(ocr_bot, fake_telegram, ACME_CHAT, 21, None, caption=CAPTION)
    no_number = client_view(fake_telegram, ACME_CHAT)
    assert "Which order is this about?" in no_number[0][0]
    await say(ocr_bot, ACME_CHAT, "cancel")
    await ocr_bot.settled()
    before = len(client_view(fake_telegram, ACME_CHAT))

    # hailang's PO-2026-0200 on the carton acme photographed: not used, not echoed, the very same answer.
    await send_label(ocr_bot, fake_telegram, ACME_CHAT, 22, "PO-2026-0200", caption=CAPTION)
    assert client_view(fake_telegram, ACME_CHAT)[before:] == no_number
    for answer in ("not sure", "I don't have it"):  # asked twice, then the claim opens without an order
        await say(ocr_bot, ACME_CHAT, answer)
        await ocr_bot.settled()
    claim = await one_claim(ocr_bot.db)
    assert (claim.order_number, claim.order_id) == (None, None)
    [ev] = claim.evidence
    assert ev.ocr_text is not None and "0200" in ev.ocr_text  # what was read is kept, for QC
    assert ev.ocr is not None and ev.ocr["order"] is None
    told = " ".join(fake_telegram.texts_to(ACME_CHAT))
    assert "0200" not in told and "carton label" not in told

    # The positive control: a label of acme's own order, sent to the claim later, links it then.
    await send_label(
        ocr_bot, fake_telegram, ACME_CHAT, 23, "PO-2026-0117", caption=f"more photos for {claim.number}"
    )
    claim = await one_claim(ocr_bot.db)
    assert (claim.order_number, claim.sku) == ("PO-2026-0117", "BP-220")
    assert FOUND in fake_telegram.texts_to(ACME_CHAT)[-2:]
    assert "claim_order_from_label" in await audit_actions(ocr_bot.db, claim.number)


async def test_a_chinese_client_is_told_in_chinese(ocr_bot: Any, fake_telegram: FakeTelegram) -> None:
    await send_label(
        ocr_bot, fake_telegram, HAILANG_CHAT, 31, "PO-2026-0200", caption="拉链坏了，3件，未使用"
    )
    claim = await one_claim(ocr_bot.db)
    assert claim.order_number == "PO-2026-0200" and claim.language == "zh"
    first = fake_telegram.texts_to(HAILANG_CHAT)[0]
    if "zh" not in available_languages():
        pytest.skip("no Chinese catalog")
    assert first == "我们在箱唛上找到了订单 PO-2026-0200。"


@pytest.mark.parametrize("off", ["disabled", "missing"])
async def test_without_tesseract_ocr_is_off_and_claims_still_work(
    off: str, harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    claims = (
        ClaimsSettings(ocr=False)
        if off == "disabled"
        else ClaimsSettings(tesseract_cmd=str(tmp_path / "none"))
    )
    bot = await label_bot(harness_factory, tmp_path, db_url, fake_telegram, claims)
    health = await (await bot.client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["details"]["ocr"].startswith(
        "off: disabled" if off == "disabled" else "off: tesseract not found"
    )

    await send_label(bot, fake_telegram, ACME_CHAT, 41, "PO-2026-0117", caption=CAPTION)
    assert "Which order is this about?" in fake_telegram.texts_to(ACME_CHAT)[-1]  # not read: asked
    await say(bot, ACME_CHAT, "PO-2026-0117")
    await bot.settled()
    await send_photo(bot, fake_telegram, ACME_CHAT, jpeg(photo(42)), file_id="P42")
    await bot.settled()
    claim = await one_claim(bot.db)
    assert claim.order_number == "PO-2026-0117" and len(claim.evidence) == 2
    assert all(ev.ocr_text is None and ev.ocr is None for ev in claim.evidence)
    assert not any("carton label" in t for t in fake_telegram.texts_to(ACME_CHAT))
