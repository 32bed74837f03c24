"""Across channels: WeChat and WhatsApp clients, staff on Telegram or WhatsApp, each on their own channel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import WeChatSettings
from storage.models import Conversation
from tests.conftest import BotHarness
from tests.fakes.oncall import (
    ACME_CHAT,
    ANNA,
    LI,
    Clock,
    alert_message_id,
    alert_provider_id,
    alerts_to,
    escalation,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, message_update
from tests.fakes.twilio import FakeTwilio, encode, inbound_form, sign, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, signed_query, text_xml

WX_HAILANG = "oZh456openid"  # demo client "hailang" on WeChat (Chinese)
WA_ACME = "whatsapp:+491701234567"  # demo client "acme" on WhatsApp
LI_WHATSAPP = "whatsapp:+8613800000001"


async def all_channels(
    tmp_path: Path,
    db_url: str,
    tg: FakeTelegram,
    wa: FakeTwilio,
    wx: FakeWeChat,
    rota: str,
    clock: Clock | None = None,
) -> BotHarness:
    settings = escalation_settings(tmp_path, db_url, tg, rota)
    settings = replace(
        settings,
        whatsapp=whatsapp_settings(wa),
        wechat=WeChatSettings(
            enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=wx.api_base_url
        ),
    )
    return await start_bot(settings, clock)


async def post_wechat(h: BotHarness, xml: str) -> Any:
    return await h.client.post(
        "/webhooks/wechat", params=signed_query(), data=xml.encode(), headers={"Content-Type": "text/xml"}
    )


async def post_whatsapp(h: BotHarness, pairs: list[tuple[str, str]]) -> Any:
    path = "/webhooks/whatsapp"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(h.settings.server.public_url + path, pairs),
    }
    return await h.client.post(path, data=encode(pairs), headers=headers)


async def test_urgent_wechat_message_in_chinese_pages_the_telegram_phone_and_the_answer_reaches_wechat(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> None:
    h = await all_channels(
        tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, write_rota(tmp_path, level2=2)
    )
    try:
        resp = await post_wechat(h, text_xml(WX_HAILANG, "紧急！集装箱卡在港口了，明天要交货"))
        assert resp.status == 200
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI), timeout=3)  # level 1: at once
        assert "wechat oZh456openid" in alerts_to(fake_telegram, LI)[0]
        assert alerts_to(fake_telegram, ANNA) == []
        await fake_wechat.wait_for(lambda f: any("值班同事" in t for t in f.texts_to(WX_HAILANG)))
        await fake_telegram.wait_for(lambda f: alerts_to(f, ANNA), timeout=6)  # level 2 after its delay

        # Li answers from Telegram by replying to the alert; the client reads it on WeChat
        alert = await alert_message_id(h, "li")
        await h.post_telegram(
            message_update(LI, text="您好，我是李伟，正在联系港口。", reply_to_message_id=alert)
        )
        await fake_wechat.wait_for(
            lambda f: "Li Wei: 您好，我是李伟，正在联系港口。" in f.texts_to(WX_HAILANG)
        )
        esc = await escalation(h)
        assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li")
        # and the client's next WeChat message reaches Li's Telegram
        await post_wechat(h, text_xml(WX_HAILANG, "好的，谢谢"))
        await fake_telegram.wait_for(lambda f: any(t.endswith("好的，谢谢") for t in f.texts_to(LI)))
    finally:
        await h.close()


async def test_staff_reply_from_telegram_reaches_a_whatsapp_client(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> None:
    h = await all_channels(
        tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, write_rota(tmp_path, level2=60)
    )
    try:
        await post_whatsapp(h, inbound_form(WA_ACME, "I need to talk to a person"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        await h.settled()
        await h.post_telegram(message_update(LI, text="/r 1 Hi, Li here. How can I help?"))
        await fake_twilio.wait_for(lambda f: "Li Wei: Hi, Li here. How can I help?" in f.texts_to(WA_ACME))
        async with h.db.read() as s:
            conv = (
                await s.execute(select(Conversation).where(Conversation.channel == "whatsapp"))
            ).scalar_one()
        assert (conv.state, conv.assigned_staff) == ("with_staff", "li")
    finally:
        await h.close()


async def test_staff_on_whatsapp_answers_a_telegram_client_with_a_quoted_reply(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> None:
    rota = Path(write_rota(tmp_path, level2=60))
    rota.write_text(rota.read_text().replace("telegram_chat_id = 1001", f'whatsapp = "{LI_WHATSAPP}"'))
    h = await all_channels(tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, str(rota))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="emergency: customs hold"))
        await fake_twilio.wait_for(lambda f: any("ESC-000001" in t for t in f.texts_to(LI_WHATSAPP)))
        page = fake_twilio.texts_to(LI_WHATSAPP)[0]
        assert 'reply "ack"' in page and "Tap Acknowledge" not in page  # no buttons on WhatsApp
        await h.settled()
        sid = await alert_provider_id(h, "li")
        await post_whatsapp(h, inbound_form(LI_WHATSAPP, "ack", replied_to=sid))
        await fake_twilio.wait_for(lambda f: any("You have ESC-000001" in t for t in f.texts_to(LI_WHATSAPP)))
        await post_whatsapp(h, inbound_form(LI_WHATSAPP, "We are on it.", replied_to=sid))
        await fake_telegram.wait_for(lambda f: "Li Wei: We are on it." in f.texts_to(ACME_CHAT))
        assert (await escalation(h)).acknowledged_by == "li"
    finally:
        await h.close()


async def test_a_page_that_telegram_refuses_goes_to_the_next_contact_in_rota_order(
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> None:
    rota = Path(write_rota(tmp_path, level2=60))
    rota.write_text(
        rota.read_text().replace(
            "telegram_chat_id = 1001", f'telegram_chat_id = 1001\nwhatsapp = "{LI_WHATSAPP}"'
        )
    )
    h = await all_channels(tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat, str(rota))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="talk to a person"))
        await fake_telegram.wait_for(lambda f: any("A colleague" in t for t in f.texts_to(ACME_CHAT)))
        await h.settled()  # the hand-off's own notice to Li is out: the failure is for the page
        fake_telegram.fail_next(
            "sendMessage", 403, description="Forbidden: bot was blocked by the user", chat_id=1001
        )
        await h.post_telegram(message_update(ACME_CHAT, text="this is urgent"))
        await fake_twilio.wait_for(lambda f: any("ESC-000001" in t for t in f.texts_to(LI_WHATSAPP)))
        assert "Tap Acknowledge" not in fake_twilio.texts_to(LI_WHATSAPP)[0]
        await h.settled()
        sid = await alert_provider_id(h, "li")  # the alert now points at the WhatsApp delivery
        assert sid.startswith(("SM", "MM"))
        await post_whatsapp(h, inbound_form(LI_WHATSAPP, "ack", replied_to=sid))
        await fake_twilio.wait_for(lambda f: any("You have ESC-000001" in t for t in f.texts_to(LI_WHATSAPP)))
    finally:
        await h.close()
