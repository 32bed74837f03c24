"""Order status, documents and notices through WhatsApp: signed Twilio forms in, fake Twilio API out."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_asyncio

from tests.conftest import BotHarness, make_settings
from tests.fakes.orders import ORDER_0117_DATA, pdf_text
from tests.fakes.twilio import FakeTwilio, encode, inbound_form, sign, whatsapp_settings

ACME = "whatsapp:+491701234567"  # demo client "acme"
HAILANG = "whatsapp:+8613900000002"  # demo client "hailang"
STRANGER = "whatsapp:+15550009999"  # linked to nobody


@pytest_asyncio.fixture
async def wa_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio) -> BotHarness:
    from bot.tools.demo import seed

    h = await harness_factory(make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake_twilio)))
    await seed(h.db)
    return h


async def say(h: BotHarness, fake: FakeTwilio, sender: str, text: str) -> str:
    before = len(fake.sent_to(sender))
    pairs = inbound_form(sender, text)
    path = "/webhooks/whatsapp"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(h.settings.server.public_url + path, pairs),
    }
    resp = await h.client.post(path, data=encode(pairs), headers=headers)
    assert resp.status == 200
    await fake.wait_for(lambda f: len(f.sent_to(sender)) > before)
    return str(fake.sent_to(sender)[-1].params.get("Body", ""))


async def test_status_answers_in_english_and_chinese(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    reply = await say(wa_bot, fake_twilio, ACME, "PO-2026-0117 status")
    assert "Order PO-2026-0117: In production" in reply and "2000 pcs + 60 spare (3%)" in reply
    reply = await say(wa_bot, fake_twilio, HAILANG, "ＨＬ２０２６００３２什么时候发货")
    assert "订单 HL-2026-0032：质检中" in reply and "备品 6 件" in reply


async def test_no_order_data_to_unlinked_or_other_clients(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    for sender in (STRANGER, HAILANG):
        reply = await say(wa_bot, fake_twilio, sender, "PO-2026-0117 到哪了")
        for item in (*ORDER_0117_DATA, "spare", "备品"):
            assert item not in reply, (sender, item)


async def test_packing_list_arrives_as_a_media_link_to_the_pdf(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    await say(wa_bot, fake_twilio, ACME, "packing list PO-2026-0117 please")
    await fake_twilio.wait_for(lambda f: any(c.params.getall("MediaUrl", []) for c in f.sent_to(ACME)))
    [call] = [c for c in fake_twilio.sent_to(ACME) if c.params.getall("MediaUrl", [])]
    link = urlsplit(call.params["MediaUrl"])
    resp = await wa_bot.client.get(link.path)  # what Twilio does with the link
    assert resp.status == 200 and resp.content_type == "application/pdf"
    text = pdf_text(await resp.read())
    assert "Packing List" in text and "TOTAL / 合计\n2,575\n114\n1,236.00\n1,401.50" in text


async def test_shipped_notice_reaches_the_whatsapp_contact(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    resp = await wa_bot.api(
        "PUT", "/api/orders/PO-2026-0117", json={"status": "shipped", "carrier": "COSCO", "tracking": "COSU1"}
    )
    assert resp.status == 200
    await fake_twilio.wait_for(lambda f: f.sent_to(ACME))
    body = fake_twilio.sent_to(ACME)[0].params["Body"]
    assert "PO-2026-0117 has shipped" in body and "COSU1" in body
