"""Documents on request end to end through Telegram: the PDF the client receives, read back with pypdf."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from storage.models import AuditLog
from tests.conftest import BotHarness
from tests.fakes.orders import outbox_rows, pdf_text
from tests.fakes.telegram import Call, FakeTelegram, callback_update, message_update

ACME_CHAT = 5550001
HAILANG_CHAT = 5550002
STRANGER_CHAT = 7770002


async def request_docs(h: BotHarness, fake: FakeTelegram, chat: int, text: str, count: int = 1) -> list[Call]:
    before = len(fake.sent("sendDocument"))
    await h.post_telegram(message_update(chat, text=text))
    await fake.wait_sent(before + count, "sendDocument")
    return fake.sent("sendDocument")[before:]


async def test_packing_list_totals_cartons_weights_and_spare_lines(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    [call] = await request_docs(
        tg_bot, fake_telegram, ACME_CHAT, "Please send the packing list for PO-2026-0117"
    )
    assert str(call.params["chat_id"]) == str(ACME_CHAT)
    assert "packing list for order PO-2026-0117" in call.params["caption"]
    data = call.files["document"]
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "Packing List" in text and "Acme Bags GmbH" in text and "PO-2026-0117" in text
    # BP-220: 2000 pcs in 100 cartons of 12.5 / 11.0 kg; spares ceil(2000 × 3%) = 60 → 3 cartons,
    # net 60 × 11.0 / 20 = 33.00, gross 33.00 + 3 × 1.5 = 37.50
    bulk = text.split("BP-220", 2)
    assert "2,000\n100\n60×40×40\n1,100.00\n1,250.00" in bulk[1]
    assert "(spare units / 备品)" in bulk[2] and "60\n3\n60×40×40\n33.00\n37.50" in bulk[2]
    # TB-105: 500 pcs / 10 cartons (50 per carton, 11.0 / 10.0 kg); 15 spares → 1 carton, 3.00 / 4.00 kg
    assert "500\n10\n50×40×30\n100.00\n110.00" in text
    assert "15\n1\n50×40×30\n3.00\n4.00" in text
    # totals: pieces 2000 + 60 + 500 + 15, cartons 100 + 3 + 10 + 1, weights summed
    assert "TOTAL / 合计\n2,575\n114\n1,236.00\n1,401.50" in text
    # the file sent is the one stored, by its sha256
    async with tg_bot.db.read() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "documents_sent"))).scalar_one()
    assert audit.details["sha256"] == [hashlib.sha256(data).hexdigest()]
    # the stored file is what a signed /media link serves (how WhatsApp fetches documents)
    url = tg_bot.runtime.links.url(hashlib.sha256(data).hexdigest(), filename="PO-2026-0117-packing-list.pdf")
    resp = await tg_bot.client.get(url.split("127.0.0.1:8080", 1)[1])
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
    assert await resp.read() == data


async def test_commercial_invoice_lines_hs_codes_and_totals(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    [call] = await request_docs(tg_bot, fake_telegram, ACME_CHAT, "commercial invoice PO 2026 0117 please")
    text = pdf_text(call.files["document"])
    assert "Commercial Invoice" in text
    assert "Aftersales Bag Manufacturing" in text and "Acme Bags GmbH" in text  # seller and buyer
    assert "PI-2026-0117" in text and "FOB Xiamen" in text
    assert "4202.92\nCN\n2,000\n8.50\n17,000.00\nUSD" in text
    assert "4202.22\nCN\n500\n3.20\n1,600.00\nUSD" in text
    assert "4202.92\nCN\n60\n0.00\n0.00\nUSD" in text  # spare units at no charge, own line
    assert "Total quantity / 总数量: 2,575 pcs" in text
    assert "Total amount / 总金额: USD 18,600.00" in text


async def test_chinese_client_gets_packing_list_with_chinese_descriptions(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    [call] = await request_docs(tg_bot, fake_telegram, HAILANG_CHAT, "请发一下装箱单")
    assert "HL-2026-0032 的装箱单" in call.params["caption"]
    text = pdf_text(call.files["document"])
    assert "海浪箱包贸易有限公司" in text
    assert "24寸拉杆箱 铝框" in text and "无纺布袋，每箱 2 个" in text
    # 300 pcs, 2 per carton → 150 cartons; 2% → 6 spares in 3 cartons, 6 × 8.6 / 2 = 25.80 net
    assert "300\n150\n70×48×30\n1,290.00\n1,470.00" in text
    assert "6\n3\n70×48×30\n25.80\n29.40" in text
    assert "TOTAL / 合计\n306\n153\n1,315.80\n1,499.40" in text


async def test_origin_and_descriptions_and_invoice_in_chinese(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    calls = await request_docs(
        tg_bot, fake_telegram, HAILANG_CHAT, "HL-2026-0032 发票 原产地 产品描述", count=3
    )
    texts = [pdf_text(c.files["document"]) for c in calls]
    names = [c.params.get("document") for c in calls]
    assert len(texts) == 3, names
    invoice, origin, description = texts
    assert "CNY 43,500.00" in invoice and "Total quantity / 总数量: 306 pcs" in invoice
    assert "Origin Information" in origin and "4202.12\nCN" in origin and "PC 外壳，铝合金框架" in origin
    assert "Product and Packaging Description" in description and "无纺布袋，每箱 2 个" in description


async def test_several_open_orders_ask_which_and_the_button_delivers(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="send me the packing list"))
    [ask] = await fake_telegram.wait_sent(1, "sendMessage")
    assert "Which order" in ask.params["text"]
    values = [row[0]["callback_data"] for row in ask.params["reply_markup"]["inline_keyboard"]]
    assert "packing list PO-2026-0098" in values
    await tg_bot.post_telegram(callback_update(ACME_CHAT, "packing list PO-2026-0098"))
    [call] = await fake_telegram.wait_sent(1, "sendDocument")
    text = pdf_text(call.files["document"])
    assert "PO-2026-0098" in text and "Maersk" in text and "TOTAL / 合计\n1,000\n50" in text


async def test_documents_only_for_the_orders_own_client(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="commercial invoice for PO-2026-0117"))
    await tg_bot.post_telegram(message_update(STRANGER_CHAT, text="packing list PO-2026-0117"))
    await fake_telegram.wait_for(lambda f: f.texts_to(HAILANG_CHAT) and f.texts_to(STRANGER_CHAT))
    await tg_bot.settled()
    assert not fake_telegram.sent("sendDocument")
    for chat in (HAILANG_CHAT, STRANGER_CHAT):
        [reply] = fake_telegram.texts_to(chat)
        assert "PO-2026-0117" not in reply and "Acme" not in reply
    assert not [r for r in await outbox_rows(tg_bot) if r.payload.get("attachments")]
    media = Path(tg_bot.settings.media.dir)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]
