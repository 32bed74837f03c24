"""The domain always attaches buttons and edits; each channel's sender shows what it can.

Telegram shows buttons and edits in place; WhatsApp, WeChat and email get numbered lines,
and an edit there becomes its fallback as a new message (or nothing without one). Driven
through the real outbox, the real adapters and the fake providers.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.messages import Button, Channel, Edit, OutboundMessage
from config.settings import EmailSettings, WeChatSettings
from storage.models import OutboxRow
from storage.repos import outbox
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.escalation.test_channels import LI_WHATSAPP, all_channels, post_whatsapp
from tests.fakes.oncall import ACME_CHAT, alert_provider_id, write_rota
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram, message_update
from tests.fakes.twilio import FakeTwilio, inbound_form, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat

WA = "whatsapp:+491701234567"
WX = "oZh456openid"
MAIL = "buyer@acme.example"
TG = ACME_CHAT
BAGS = [Button("Tote", "bag:tote"), Button("Backpack", "bag:backpack")]
ASK = "Which bag is it?"
ASK_AGAIN = "Which bag is it? (the order has two)"


async def every_channel(
    tmp_path: Path, db_url: str, tg: FakeTelegram, wa: FakeTwilio, wx: FakeWeChat, smtp: FakeSmtp
) -> BotHarness:
    settings = make_settings(
        tmp_path,
        db_url,
        telegram=telegram_settings(tg),
        whatsapp=whatsapp_settings(wa),
        wechat=WeChatSettings(
            enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=wx.api_base_url
        ),
        email=EmailSettings(
            enabled=True,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            from_address="support@factory.example",
        ),
    )
    return await BotHarness(settings).start()


async def queue(h: BotHarness, out: OutboundMessage) -> None:
    async with h.db.write() as s:
        await outbox.enqueue(s, out, kind="notice")
    h.runtime.dispatcher.wake()


async def provider_id(h: BotHarness, key: str) -> str:
    async with h.db.read() as s:
        row = (await s.execute(select(OutboxRow).where(OutboxRow.idempotency_key == key))).scalar_one()
    assert row.state == "sent" and row.provider_message_id is not None
    return row.provider_message_id


def plain_bodies(smtp: FakeSmtp, address: str) -> list[str]:
    bodies = []
    for received in smtp.to(address):
        part = received.message.get_body(("plain",))
        assert part is not None
        bodies.append(part.get_content().replace("\r\n", "\n").strip())
    return bodies


async def test_buttons_and_an_edit_reach_each_channel_as_it_can_show_them(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
    smtp: FakeSmtp,
) -> None:
    h = await every_channel(tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, smtp)
    targets = {Channel.TELEGRAM: str(TG), Channel.WHATSAPP: WA, Channel.WECHAT: WX, Channel.EMAIL: MAIL}
    try:
        # the same three messages to every channel: a question, its edit, an edit worth no new message
        for channel, user in targets.items():
            await queue(h, OutboundMessage(channel, user, ASK, buttons=BAGS, idempotency_key=f"q:{channel}"))
        await h.settled()
        for channel, user in targets.items():
            pid = await provider_id(h, f"q:{channel}")
            again = Edit(pid, fallback=ASK_AGAIN)
            key = f"e:{channel}"
            edit = OutboundMessage(channel, user, ASK_AGAIN, buttons=BAGS, idempotency_key=key, edit=again)
            await queue(h, edit)
            quiet = OutboundMessage(
                channel, user, f"{ASK_AGAIN}\n\nanswered", idempotency_key=f"x:{channel}", edit=Edit(pid)
            )
            await queue(h, quiet)
        assert set(await h.settled()) == {"sent"}

        numbered = "1. Tote\n2. Backpack"
        assert fake_twilio.texts_to(WA) == [f"{ASK}\n{numbered}", f"{ASK_AGAIN}\n{numbered}"]
        assert fake_wechat.texts_to(WX) == [f"{ASK}\n\n{numbered}", f"{ASK_AGAIN}\n\n{numbered}"]
        mails = plain_bodies(smtp, MAIL)
        assert len(mails) == 2 and mails[0].startswith(ASK) and mails[1].startswith(ASK_AGAIN)
        assert all(m.endswith(numbered) for m in mails)

        # positive control: Telegram shows real buttons and rewrites the message in place, twice
        tg_pid = await provider_id(h, f"q:{Channel.TELEGRAM}")
        sends = [c for c in fake_telegram.sent("sendMessage") if str(c.params.get("chat_id")) == str(TG)]
        assert [c.params["text"] for c in sends] == [ASK]  # no numbered lines, no new message for edits
        assert "bag:tote" in str(sends[0].params.get("reply_markup"))
        edits = fake_telegram.sent("editMessageText")
        assert [str(c.params["message_id"]) for c in edits] == [tg_pid, tg_pid]
        assert edits[0].params["text"] == ASK_AGAIN and "bag:backpack" in str(edits[0].params["reply_markup"])
    finally:
        await h.close()


async def test_a_page_on_whatsapp_has_no_numbered_buttons_and_the_ack_arrives_as_one_new_message(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> None:
    """The escalation service no longer asks which channel: the page carries its buttons and the ack
    an edit; WhatsApp drops the optional buttons and turns the edit into the status line."""
    rota = Path(write_rota(tmp_path, level2=60))
    rota.write_text(rota.read_text().replace("telegram_chat_id = 1001", f'whatsapp = "{LI_WHATSAPP}"'))
    h = await all_channels(tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, str(rota))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="emergency: customs hold"))
        await fake_twilio.wait_for(lambda f: any("ESC-000001" in t for t in f.texts_to(LI_WHATSAPP)))
        await h.settled()
        page = fake_twilio.texts_to(LI_WHATSAPP)[0]
        assert 'reply "ack"' in page and "1. Acknowledge" not in page and "Tap" not in page
        async with h.db.read() as s:
            alert_row = (
                (await s.execute(select(OutboxRow).where(OutboxRow.kind == "alert").order_by(OutboxRow.id)))
                .scalars()
                .first()
            )
        assert alert_row is not None and alert_row.channel == "whatsapp"
        assert [b["label"] for b in alert_row.payload["buttons"]] == ["Acknowledge", "Resolve"]

        sid = await alert_provider_id(h, "li")
        await post_whatsapp(h, inbound_form(LI_WHATSAPP, "ack", replied_to=sid))
        await fake_twilio.wait_for(
            lambda f: "ESC-000001: ✅ Acknowledged by Li Wei" in f.texts_to(LI_WHATSAPP)
        )
        await h.settled()
        texts = fake_twilio.texts_to(LI_WHATSAPP)
        assert texts.count("ESC-000001: ✅ Acknowledged by Li Wei") == 1
        async with h.db.read() as s:
            edit_row = (
                await s.execute(select(OutboxRow).where(OutboxRow.idempotency_key.like("esc:1:edit:%")))
            ).scalar_one()
        assert edit_row.payload["edit"]["message_id"] == sid and edit_row.state == "sent"
    finally:
        await h.close()
