"""Escalation and email: a client writing by email, and staff paged by email answering by replying."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from config.settings import EmailSettings
from tests.channels.test_email import MX, trusted_auth
from tests.conftest import BotHarness, wait_until
from tests.fakes.dovecot import (  # noqa: F401  (fixtures)
    Dovecot,
    append,
    dovecot_fixture,
)
from tests.fakes.oncall import (
    ACME_CHAT,
    LI,
    alert_provider_id,
    alerts_to,
    escalation,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram, message_update

SUPPORT = "support@factory.example"
ACME = "buyer@acme.example"
LI_MAIL = "li@factory.example"


def mail(text: str, *, sender: str, subject: str, in_reply_to: str | None = None) -> tuple[bytes, str]:
    """A mail as our receiving server delivers it from a genuine sender (dmarc=pass for its domain)."""
    msg = EmailMessage()
    for name, value in trusted_auth(sender).items():
        msg[name] = value
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    mid = make_msgid(domain=sender.split("@")[1])
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(text)
    return msg.as_bytes(), mid


async def email_bot(
    tmp_path: Path, db_url: str, tg: FakeTelegram, server: Dovecot, smtp: FakeSmtp, rota: str
) -> BotHarness:
    settings = escalation_settings(tmp_path, db_url, tg, rota)
    settings = replace(
        settings,
        email=EmailSettings(
            enabled=True,
            imap_host=server.host,
            imap_port=server.port,
            imap_ssl=False,
            imap_username=server.user,
            imap_password=server.password,
            poll_seconds=3600,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            from_address=SUPPORT,
            trusted_authserv_id=MX,
        ),
    )
    h = await start_bot(settings)
    adapter = h.runtime.adapters["email"]

    async def connected() -> bool:
        return adapter.connected_once.is_set()  # type: ignore[attr-defined,no-any-return]

    await wait_until(connected, 15)
    return h


async def test_urgent_email_pages_telegram_and_the_answer_comes_back_in_the_clients_thread(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await email_bot(tmp_path, db_url, fake_telegram, dovecot, smtp, write_rota(tmp_path, level2=60))
    try:
        raw, mid = mail(
            "Our container is stuck at customs, urgent!", sender=ACME, subject="Shipment PO-2026-0117"
        )
        await append(dovecot, raw)
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI), timeout=15)
        assert f"email {ACME}" in alerts_to(fake_telegram, LI)[0]
        await h.post_telegram(message_update(LI, text="/r 1 We are calling the broker now."))
        await smtp.wait_for(lambda s: any("We are calling the broker" in r.text for r in s.to(ACME)))
        got = next(r for r in smtp.to(ACME) if "We are calling the broker" in r.text)
        assert "Li Wei: We are calling the broker now." in got.text
        assert got.message["In-Reply-To"] == mid  # in the client's own thread
        assert "[ESC-000001]" in got.message["Subject"] and "Shipment PO-2026-0117" in got.message["Subject"]
    finally:
        await h.close()


async def test_staff_paged_by_email_acknowledge_and_answer_by_replying(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    rota = Path(write_rota(tmp_path, level2=60))
    rota.write_text(rota.read_text().replace("telegram_chat_id = 1001", f'email = "{LI_MAIL}"'))
    h = await email_bot(tmp_path, db_url, fake_telegram, dovecot, smtp, str(rota))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="emergency: the whole order is wet"))
        [page] = await smtp.wait_to(LI_MAIL)
        assert "[ESC-000001]" in page.message["Subject"] and "reply" in page.text
        await h.settled()
        alert_id = await alert_provider_id(h, "li")
        assert page.message["Message-ID"] == alert_id
        raw, _ = mail("ack", sender=LI_MAIL, subject=f"Re: {page.message['Subject']}", in_reply_to=alert_id)
        await append(dovecot, raw)

        async def acknowledged() -> bool:
            return (await escalation(h)).state == "acknowledged"

        await wait_until(acknowledged, 15)
        raw, _ = mail(
            "Please send photos of the cartons.",
            sender=LI_MAIL,
            subject="Re: wet order",
            in_reply_to=alert_id,
        )
        await append(dovecot, raw)
        await fake_telegram.wait_for(
            lambda f: "Li Wei: Please send photos of the cartons." in f.texts_to(ACME_CHAT), timeout=15
        )
    finally:
        await h.close()
