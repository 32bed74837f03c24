"""The closure notice on WhatsApp, WeChat and email (Telegram: test_closures.py), the clock in Chinese
New Year 2027 (closed 4–14 February): a client's first message gets it once, in their language."""

from __future__ import annotations

from pathlib import Path

from config.settings import WeChatSettings
from tests.channels.test_email import ACME, adapter_of, email_settings, mail
from tests.conftest import make_settings, wait_until
from tests.fakes.calendar import at, start_bot_at, with_calendar, write_calendar
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp
from tests.fakes.twilio import CDN_HOST, FakeTwilio, inbound_form, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, text_xml
from tests.handlers.claims.test_dialog_channels import WA_ACME, WX_HAILANG, wa_post, wx_post

__all__ = ["dovecot_fixture"]
NOTICE = "Our factory is closed for Chinese New Year from 2027-02-04 to 2027-02-14 and reopens on 2027-02-15"
CLOSED = "factory is closed"


async def test_whatsapp_and_wechat_clients_get_the_notice_once_in_their_language(
    tmp_path: Path, db_url: str, fake_twilio: FakeTwilio, fake_wechat: FakeWeChat
) -> None:
    wechat = WeChatSettings(
        enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=fake_wechat.api_base_url
    )
    settings = make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake_twilio), wechat=wechat)
    settings.media.allowed_hosts = [CDN_HOST]
    h = await start_bot_at(with_calendar(settings, write_calendar(tmp_path)), at(2027, 2, 6))
    try:
        for text in ("Hello, a question about my invoice", "And one more thing"):
            await wa_post(h, inbound_form(WA_ACME, text))
            await h.settled()
        wa = fake_twilio.texts_to(WA_ACME)
        assert wa[0].startswith(NOTICE) and sum(CLOSED in t for t in wa) == 1 and len(wa) >= 3

        for text in ("你好，请问发票的问题", "还有一个问题"):
            await wx_post(h, text_xml(WX_HAILANG, text))
            await h.settled()
        wx = fake_wechat.texts_to(WX_HAILANG)
        assert "春节" in wx[0] and "2027-02-15" in wx[0] and "Chinese New Year" not in wx[0]
        assert sum("2027-02-15" in t for t in wx) == 1
    finally:
        await h.close()


async def test_an_email_client_gets_the_notice_once(
    tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    settings = make_settings(tmp_path, db_url, email=email_settings(dovecot, smtp))
    h = await start_bot_at(with_calendar(settings, write_calendar(tmp_path)), at(2027, 2, 6))
    try:
        adapter = adapter_of(h)

        async def connected() -> bool:
            return adapter.connected_once.is_set()

        await wait_until(connected, 15)
        for n, text in enumerate(("Hello, a question about my invoice", "And one more thing"), start=1):
            raw, _ = mail(text, subject=f"Invoice {n}")
            await append(dovecot, raw)
            await smtp.wait_to(ACME, n)
            await h.settled()
        first, second = (m.text for m in smtp.to(ACME)[:2])
        assert NOTICE in first and CLOSED not in second
    finally:
        await h.close()
