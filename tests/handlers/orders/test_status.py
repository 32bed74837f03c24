"""Order status answers end to end through Telegram (real webhook, real PTB Bot, fake Bot API)."""

from __future__ import annotations

from sqlalchemy import select

from bot.messages import Channel, InboundMessage
from storage.models import AuditLog, Contact
from tests.conftest import BotHarness
from tests.fakes.orders import ORDER_0117_DATA, outbox_rows
from tests.fakes.telegram import FakeTelegram, callback_update, message_update

ACME_CHAT = 5550001  # demo client "acme" (English): PO-2026-0117 in production, PO-2026-0098 shipped
HAILANG_CHAT = 5550002  # demo client "hailang" (Chinese): HL-2026-0032 in QC
STRANGER_CHAT = 7770001  # not linked to any client


async def ask(h: BotHarness, fake: FakeTelegram, chat: int, text: str) -> str:
    before = len(fake.texts_to(chat))
    await h.post_telegram(message_update(chat, text=text))
    await fake.wait_for(lambda f: len(f.texts_to(chat)) > before)
    return fake.texts_to(chat)[-1]


async def test_number_with_status_word_answers_stage_eta_and_spares(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await ask(tg_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 status")
    assert "Order PO-2026-0117: In production" in reply
    assert "ETA: 2026-12-20" in reply
    assert "PI-2026-0117" in reply and "FOB Xiamen" in reply
    # 3% spare units: ceil(2000 × 0.03) = 60, ceil(500 × 0.03) = 15
    assert "BP-220 Laptop backpack 15.6in: 2000 pcs + 60 spare (3%)" in reply
    assert "TB-105 Tote bag, cotton canvas: 500 pcs + 15 spare (3%)" in reply
    assert "Timeline:" in reply and "In production" in reply.split("Timeline:")[1]


async def test_number_alone_in_forms_clients_type(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    for typed in ("po 2026 0117", "PO20260117", "#PO-2026-0117", "order po-2026-0117"):
        reply = await ask(tg_bot, fake_telegram, ACME_CHAT, typed)
        assert "Order PO-2026-0117: In production" in reply, typed


async def test_shipped_order_shows_carrier_and_tracking(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await ask(tg_bot, fake_telegram, ACME_CHAT, "when will PO-2026-0098 arrive? tracking please")
    assert "Order PO-2026-0098: Shipped" in reply
    assert "Carrier: Maersk · Tracking: MSKU7654321" in reply
    assert "1000 pcs" in reply and "spare" not in reply  # spare_ratio 0: no spare units


async def test_chinese_question_with_full_width_number(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await ask(tg_bot, fake_telegram, HAILANG_CHAT, "ＨＬ－２０２６－００３２ 到哪了？")
    assert "订单 HL-2026-0032：质检中" in reply
    assert "预计到达：2026-12-15" in reply
    # 2% of 300 = 6 spare units
    assert "TR-24 24寸拉杆箱 铝框：300 件 + 备品 6 件（2%）" in reply
    assert "进度：" in reply


async def test_chinese_question_without_number_and_one_open_order(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    for question in ("订单到哪了", "什么时候发货"):
        reply = await ask(tg_bot, fake_telegram, HAILANG_CHAT, question)
        assert "订单 HL-2026-0032：质检中" in reply, question


async def test_several_open_orders_give_a_pick_list_and_the_button_answers(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await ask(tg_bot, fake_telegram, ACME_CHAT, "Where is my order?")
    assert "Which order do you mean?" in reply
    [call] = [c for c in fake_telegram.sent("sendMessage") if c.params["text"] == reply]
    values = [row[0]["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"]]
    assert sorted(values) == ["PO-2026-0098", "PO-2026-0117"]
    before = len(fake_telegram.texts_to(ACME_CHAT))
    await tg_bot.post_telegram(callback_update(ACME_CHAT, "PO-2026-0098"))
    await fake_telegram.wait_for(lambda f: len(f.texts_to(ACME_CHAT)) > before)
    assert "Order PO-2026-0098: Shipped" in fake_telegram.texts_to(ACME_CHAT)[-1]
    again = await ask(tg_bot, fake_telegram, ACME_CHAT, "when will it ship")
    assert "Which order do you mean?" in again


def assert_no_order_data(reply: str) -> None:
    for item in (*ORDER_0117_DATA, "Maersk", "MSKU", "2000", "spare", "备品"):
        assert item not in reply, (item, reply)


async def test_other_clients_order_is_indistinguishable_from_a_missing_one(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    theirs = await ask(tg_bot, fake_telegram, HAILANG_CHAT, "PO-2026-0117 到哪了")
    missing = await ask(tg_bot, fake_telegram, HAILANG_CHAT, "PO-2099-9999 到哪了")
    assert_no_order_data(theirs)
    assert theirs == missing
    assert "未找到" in theirs
    documents = await ask(tg_bot, fake_telegram, HAILANG_CHAT, "PO-2026-0117 装箱单")
    assert_no_order_data(documents)
    assert not fake_telegram.sent("sendDocument")


async def test_unlinked_contact_sees_nothing_and_gets_a_verification_route(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    for text in ("PO-2026-0117 status", "PO-2026-0117", "Where is my order?", "PO-2099-9999"):
        reply = await ask(tg_bot, fake_telegram, STRANGER_CHAT, text)
        assert_no_order_data(reply)
        assert "not linked yet" in reply and "company name" in reply
    reply = await ask(tg_bot, fake_telegram, STRANGER_CHAT, "订单到哪了")
    assert "尚未绑定" in reply
    async with tg_bot.db.read() as s:
        audits = list(
            (await s.execute(select(AuditLog).where(AuditLog.action == "verification_needed"))).scalars()
        )
    assert len(audits) == 5 and {a.details["sender"] for a in audits} == {str(STRANGER_CHAT)}


async def test_email_sender_from_a_client_domain_is_linked_and_answered(tg_bot: BotHarness) -> None:
    """No email adapter is wired in this branch: the message enters through the writer as the poller would.

    Only a sender the poller marked authenticated (our server's dmarc=pass) is linked by domain.
    """
    vouched = {"sender_authenticated": True, "auth": {"authenticated": True, "reason": "dmarc=pass"}}
    msgs = [
        InboundMessage(
            Channel.EMAIL, "logistics@acme.example", "<m1@acme.example>", text="PO-2026-0117 status",
            extra=vouched,
        ),
        InboundMessage(
            Channel.EMAIL, "someone@elsewhere.example", "<m2@x.example>", text="PO-2026-0117 status",
            extra=vouched,
        ),
        InboundMessage(  # the same domain, but nobody vouched for the From address
            Channel.EMAIL, "typed@acme.example", "<m3@acme.example>", text="PO-2026-0117 status"
        ),
    ]  # fmt: skip
    await tg_bot.runtime.writer.submit(msgs)
    await tg_bot.idle()
    [linked] = await outbox_rows(tg_bot, channel_user_id="logistics@acme.example")
    assert "Order PO-2026-0117: In production" in linked.payload["text"]
    for address in ("someone@elsewhere.example", "typed@acme.example"):
        [refused] = await outbox_rows(tg_bot, channel_user_id=address)
        assert_no_order_data(refused.payload["text"])
    async with tg_bot.db.read() as s:
        contact = (
            await s.execute(select(Contact).where(Contact.channel_user_id == "logistics@acme.example"))
        ).scalar_one()
        stranger = (
            await s.execute(select(Contact).where(Contact.channel_user_id == "someone@elsewhere.example"))
        ).scalar_one()
        linked_audit = (
            await s.execute(select(AuditLog).where(AuditLog.action == "contact_linked_by_email_domain"))
        ).scalar_one()
    assert contact.client_id is not None and stranger.client_id is None
    assert linked_audit.details["client"] == "acme"


async def test_a_claim_question_is_not_taken_for_an_order_question(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await ask(tg_bot, fake_telegram, ACME_CHAT, "what is the status of my claim CLM-2026-000001?")
    assert "Order PO-" not in reply and "Which order do you mean?" not in reply


async def test_registered_staff_can_look_up_any_order(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    from tests.fakes.orders import add_staff

    await add_staff(tg_bot, "li", 1001, ["qc"])
    reply = await ask(tg_bot, fake_telegram, 1001, "HL-2026-0032 status")
    assert "HL-2026-0032" in reply and "Quality check" in reply


def test_questions_naming_an_order_are_status_questions() -> None:
    from handlers.orders.status import asks_status

    for text in ("Where is PO 2026 0117?", "any news on PO-2026-0117", "PO-2026-0117 到了吗"):
        assert asks_status(text), text
    for text in ("PO-2026-0117 strap torn", "send the packing list for PO-2026-0117", "hello"):
        assert not asks_status(text), text
