"""The carton names its order on WhatsApp, WeChat and email too (Telegram: test_labels_telegram.py).

Through each channel's real route and the real Tesseract: a label photo of the client's own order
links the claim and the client is told, in their language; on WeChat (a Chinese client, images
without captions) a label of another client's order looks exactly like a label without any
number, and its number is never echoed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_asyncio
from markupsafe import escape

from bot.web.console.passwords import set_password
from config.settings import ClaimsSettings
from tests.bot.web.console.test_views import login
from tests.channels.test_email import ACME, mail
from tests.claim_fixtures import jpeg, one_claim
from tests.conftest import BotHarness
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp
from tests.fakes.twilio import FakeTwilio
from tests.fakes.wechat import FakeWeChat, text_xml
from tests.handlers.claims.test_dialog_channels import (
    WA_ACME,
    WA_QC,
    WX_HAILANG,
    WX_QC,
    wa_harness,
    wa_photo,
    wa_post,
    wx_harness,
    wx_photo,
    wx_post,
)
from tests.handlers.claims.test_dialog_email import QC_MAIL, mail_claims
from tests.label_fixtures import carton_label, need_tesseract

__all__ = ["dovecot_fixture"]
SLOW = 90.0  # seconds to settle: Tesseract takes a few seconds a photo on a busy machine
FOUND = "We found order PO-2026-0117 on the carton label."
FOUND_ZH = "我们在箱唛上找到了订单 PO-2026-0200。"
OCR = {"claims": ClaimsSettings()}  # Tesseract on (make_settings leaves it off)


def label(seed_: int, order: str | None) -> bytes:
    return jpeg(carton_label(seed_, order), quality=85)


async def test_whatsapp_a_label_of_the_clients_own_order_links_the_claim(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    need_tesseract()
    bot = await wa_harness(harness_factory, tmp_path, db_url, fake_twilio, **OCR)
    await wa_post(
        bot, wa_photo(fake_twilio, WA_ACME, label(11, "PO-2026-0117"), "zipper broken on 3 pcs, unused")
    )
    await bot.settled(SLOW)

    claim = await one_claim(bot.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected) == ("PO-2026-0117", "BP-220", 3)
    found, opened = fake_twilio.texts_to(WA_ACME)
    assert found == FOUND and claim.number in opened and "Which order" not in opened
    assert "PO-2026-0117" in " ".join(fake_twilio.texts_to(WA_QC))
    [ev] = claim.evidence
    assert ev.ocr_text is not None and "0117" in ev.ocr_text
    assert ev.ocr is not None and ev.ocr["order"] == "PO-2026-0117"

    # QC's claim page in the console shows what was read, beside the photo
    await set_password(bot.db, "li", "correct horse battery", actor="test")
    assert (await login(bot, "li", "correct horse battery")).status == 303
    page = await (await bot.client.get(f"/console/claims/{claim.number}")).text()
    assert "Read on the photo:" in page and f'<pre class="ocr">{escape(ev.ocr_text)}</pre>' in page


async def test_wechat_own_label_links_and_another_clients_label_looks_like_no_number(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    need_tesseract()
    bot = await wx_harness(harness_factory, tmp_path, db_url, fake_wechat, **OCR)

    async def send(xml: str) -> list[str]:
        before = len(fake_wechat.texts_to(WX_HAILANG))
        await wx_post(bot, xml)
        await bot.settled(SLOW)
        return fake_wechat.texts_to(WX_HAILANG)[before:]

    # The control: a label without any order number; then hailang cancels.
    no_number = await send(wx_photo(fake_wechat, WX_HAILANG, label(21, None), "WX_L21"))
    assert "哪个订单" in no_number[0]
    await send(text_xml(WX_HAILANG, "取消"))
    # acme's PO-2026-0117 on the carton hailang photographed: the very same answer, the number never said.
    leak = await send(wx_photo(fake_wechat, WX_HAILANG, label(11, "PO-2026-0117"), "WX_L11"))
    assert leak == no_number
    await send(text_xml(WX_HAILANG, "取消"))
    # hailang's own PO-2026-0200 on the label: linked, and hailang is told in Chinese.
    own = await send(wx_photo(fake_wechat, WX_HAILANG, label(31, "PO-2026-0200"), "WX_L31"))
    assert own[0] == FOUND_ZH and "哪个订单" not in " ".join(own)
    for answer in ("拉链坏了", "3", "是"):  # what is wrong, how many, unused
        await send(text_xml(WX_HAILANG, answer))
    claim = await one_claim(bot.db)
    assert (claim.order_number, claim.sku, claim.language) == ("PO-2026-0200", "DF-50", "zh")
    told = " ".join(fake_wechat.texts_to(WX_HAILANG))
    example = "例如 PO-2026-0117"  # the order question's own example of a number's shape
    assert "0117" not in told.replace(example, "") and "0117" not in " ".join(fake_wechat.texts_to(WX_QC))
    [ev] = claim.evidence
    assert ev.ocr is not None and ev.ocr["order"] == "PO-2026-0200"


@pytest_asyncio.fixture
async def mail_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> BotHarness:
    return await mail_claims(harness_factory, tmp_path, db_url, dovecot, smtp, **OCR)


async def test_email_a_label_attached_to_a_complaint_finds_the_order(
    mail_bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    need_tesseract()
    raw, _ = mail(
        "Hello, the zippers are broken on 3 pcs. The goods are unused. Photo of the carton attached.",
        subject="Broken zippers",
        files=[("image/jpeg", "carton.jpg", label(11, "PO-2026-0117"))],
    )
    await append(dovecot, raw)
    await smtp.wait_to(ACME, timeout=SLOW)
    await mail_bot.settled(SLOW)
    claim = await one_claim(mail_bot.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected) == ("PO-2026-0117", "BP-220", 3)
    told = "\n".join(m.text for m in smtp.to(ACME))
    assert FOUND in told and claim.number in told and "Which order" not in told
    [page] = await smtp.wait_to(QC_MAIL)
    assert "PO-2026-0117" in page.text
    assert claim.evidence[0].ocr_text is not None and "0117" in claim.evidence[0].ocr_text
