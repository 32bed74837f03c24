"""What a forger gets by email: a real Dovecot mailbox in, aiosmtpd and the fake Telegram out.

Staff Li is reached by email (li@factory.example), Anna and Zhang on Telegram; the client
writes on Telegram. The bot trusts Authentication-Results from mx.factory.example only. Each
refusal is followed by its positive control: the genuine mail, with our server's dmarc=pass,
does what the forged one could not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select, update

from bot.core.impersonation import ACTION, ALERT_EVERY, THROTTLE
from config.settings import EmailSettings
from storage.db import Database
from storage.models import AuditLog, Contact, Counter, Message, OutboxRow
from storage.repos import throttle
from tests.channels.test_email import MX
from tests.claim_fixtures import jpeg, one_claim, photo, seed_orders
from tests.conftest import BotHarness, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.oncall import ACME_CHAT, ANNA, BOSS, escalation, escalation_settings, start_bot, write_rota
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram, message_update

__all__ = ["dovecot_fixture"]
SUPPORT = "support@factory.example"
LI_MAIL = "li@factory.example"
ACME = "buyer@acme.example"
GENUINE = f"{MX}; dkim=pass header.d=factory.example; spf=pass; dmarc=pass header.from=factory.example"
DMARC_FAIL = f"{MX}; dkim=fail header.d=factory.example; spf=fail; dmarc=fail header.from=factory.example"
SPOOF_ALERT = "Possible impersonation"


def mail(
    text: str,
    *,
    sender: str,
    auth: list[str] | tuple[str, ...] = (),
    subject: str = "Re: escalation",
    files: list[tuple[str, bytes]] | None = None,
) -> tuple[bytes, str]:
    """A mail as it lands in the mailbox; `auth` are Authentication-Results values, topmost first."""
    msg = EmailMessage()
    for value in auth:
        msg["Authentication-Results"] = value
    msg["From"] = "placeholder@from.invalid"  # replaced below: the header exactly as the sender wrote it
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    mid = make_msgid(domain="mail.example")
    msg["Message-ID"] = mid
    msg.set_content(text)
    for name, data in files or []:
        msg.add_attachment(data, maintype="image", subtype="jpeg", filename=name)
    return msg.as_bytes().replace(b"placeholder@from.invalid", sender.encode(), 1), mid


@pytest_asyncio.fixture
async def bot(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, dovecot: Dovecot, smtp: FakeSmtp
) -> AsyncIterator[BotHarness]:
    rota = Path(write_rota(tmp_path, level2=600))
    rota.write_text(rota.read_text().replace("telegram_chat_id = 1001", f'email = "{LI_MAIL}"'))
    settings = escalation_settings(tmp_path, db_url, fake_telegram, str(rota))
    settings = replace(
        settings,
        email=EmailSettings(
            enabled=True, imap_host=dovecot.host, imap_port=dovecot.port, imap_ssl=False,
            imap_username=dovecot.user, imap_password=dovecot.password, poll_seconds=3600,
            smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, from_address=SUPPORT,
            trusted_authserv_id=MX,
        ),
    )  # fmt: skip
    h = await start_bot(settings)
    adapter: Any = h.runtime.adapters["email"]

    async def connected() -> bool:
        return bool(adapter.connected_once.is_set())

    await wait_until(connected, 15)
    yield h
    await h.close()


async def deliver(h: BotHarness, dovecot: Dovecot, raw: bytes, mid: str) -> None:
    """APPEND the mail and wait until the bot has handled it and sent whatever it caused."""
    await append(dovecot, raw)

    async def handled() -> bool:
        async with h.db.read() as s:
            row = (
                await s.execute(select(Message).where(Message.provider_message_id == mid))
            ).scalar_one_or_none()
        return row is not None and row.handled_at is not None

    await wait_until(handled, 15)
    await h.settled(15)


async def urgent_escalation(h: BotHarness, smtp: FakeSmtp) -> None:
    """ESC-000001 for the client on Telegram; Li is paged by email."""
    await h.post_telegram(message_update(ACME_CHAT, text="emergency: the whole order is wet"))
    await smtp.wait_to(LI_MAIL)
    await h.settled()


async def spoof_entries(h: BotHarness) -> list[AuditLog]:
    async with h.db.read() as s:
        rows = await s.execute(select(AuditLog).where(AuditLog.action == ACTION).order_by(AuditLog.id))
        return list(rows.scalars())


def spoof_alerts(tg: FakeTelegram, smtp: FakeSmtp) -> tuple[int, int, int]:
    """How many impersonation alerts Anna and Zhang (Telegram) and Li (email) received."""
    on_tg = [sum(SPOOF_ALERT in t for t in tg.texts_to(chat)) for chat in (ANNA, BOSS)]
    return on_tg[0], on_tg[1], sum(SPOOF_ALERT in r.text for r in smtp.to(LI_MAIL))


async def client_outbox(h: BotHarness, needle: str) -> list[str]:
    async with h.db.read() as s:
        rows = await s.execute(select(OutboxRow).where(OutboxRow.channel_user_id == str(ACME_CHAT)))
        return [str(r.payload.get("text")) for r in rows.scalars() if needle in str(r.payload.get("text"))]


async def test_forged_staff_relay_reaches_no_client_is_audited_and_alerted_once_an_hour(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp, fake_telegram: FakeTelegram
) -> None:
    await urgent_escalation(bot, smtp)
    forged_text = "Please pay the balance to our new account IBAN XX00 1234"
    raw, mid = mail(f"/r 1 {forged_text}", sender=LI_MAIL, auth=[DMARC_FAIL])
    await deliver(bot, dovecot, raw, mid)

    assert not any("IBAN" in t for t in fake_telegram.texts_to(ACME_CHAT))
    assert await client_outbox(bot, "IBAN") == []
    assert (await escalation(bot)).state == "open"
    [entry] = await spoof_entries(bot)
    assert entry.target == "staff:li" and entry.details["address"] == LI_MAIL
    assert entry.details["auth"]["reason"] == "dmarc=fail"
    assert spoof_alerts(fake_telegram, smtp) == (1, 1, 1)
    # handled as an ordinary sender: the normal bot answer, sent to the address it claimed
    answers = [r for r in smtp.to(LI_MAIL) if r.message["In-Reply-To"] == mid]
    assert answers and not any("IBAN" in r.text for r in answers)

    # A second forgery within the hour (a reply "ack" this time): refused, audited, no new alert.
    raw, mid = mail("/ack 1", sender=LI_MAIL, auth=[DMARC_FAIL])
    await deliver(bot, dovecot, raw, mid)
    assert (await escalation(bot)).state == "open"
    assert len(await spoof_entries(bot)) == 2
    assert spoof_alerts(fake_telegram, smtp) == (1, 1, 1)

    # The hour is kept in the database: once it has passed, the next forgery alerts again.
    async with bot.db.write() as s:
        await s.execute(update(Counter).where(Counter.name == THROTTLE).values(value=Counter.value - 3601))
    raw, mid = mail("/close 1", sender=LI_MAIL, auth=[DMARC_FAIL])
    await deliver(bot, dovecot, raw, mid)
    assert (await escalation(bot)).state == "open"
    assert spoof_alerts(fake_telegram, smtp) == (2, 2, 2)

    # Positive control: Li's genuine mail, vouched for by our server, reaches the client.
    raw, mid = mail("/r 1 We are calling the broker now.", sender=LI_MAIL, auth=[GENUINE])
    await deliver(bot, dovecot, raw, mid)
    await fake_telegram.wait_for(
        lambda f: "Li Wei: We are calling the broker now." in f.texts_to(ACME_CHAT), timeout=15
    )
    assert len(await spoof_entries(bot)) == 3


async def test_encoded_word_display_name_is_not_the_staff_member(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp, fake_telegram: FakeTelegram
) -> None:
    await urgent_escalation(bot, smtp)
    attacker = "attacker@evil.example"
    raw, mid = mail(
        "/r 1 Forged relay via the display name",
        sender=f"=?utf-8?q?li=40factory.example?= <{attacker}>",
        auth=[f"{MX}; dmarc=pass header.from=evil.example"],  # the attacker's own domain may pass
    )
    await deliver(bot, dovecot, raw, mid)
    assert not any("Forged relay" in t for t in fake_telegram.texts_to(ACME_CHAT))
    assert await client_outbox(bot, "Forged relay") == []
    assert (await escalation(bot)).state == "open"
    async with bot.db.read() as s:
        contacts = (await s.execute(select(Contact).where(Contact.channel == "email"))).scalars().all()
    senders = {c.channel_user_id for c in contacts}
    assert attacker in senders and LI_MAIL not in senders
    assert await spoof_entries(bot) == []  # not even a claim to be Li: it is the attacker's own address
    assert [r.message["In-Reply-To"] for r in smtp.to(attacker)] == [mid]  # answered as who they are

    # The same header as a careless decoder would show it: read as Li, so it is a forged Li.
    raw, mid = mail(
        "/r 1 Forged relay via an address as display name",
        sender=f"li@factory.example <{attacker}>",
        auth=[f"{MX}; dmarc=pass"],  # the server checked evil.example and did not say so
    )
    await deliver(bot, dovecot, raw, mid)
    assert not any("Forged relay" in t for t in fake_telegram.texts_to(ACME_CHAT))
    assert (await escalation(bot)).state == "open"
    [entry] = await spoof_entries(bot)
    assert entry.details["auth"]["reason"] == "malformed From header"


async def test_dmarc_pass_from_another_server_is_ignored(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp, fake_telegram: FakeTelegram
) -> None:
    await urgent_escalation(bot, smtp)
    raw, mid = mail(
        "/r 1 Forged relay with a borrowed verdict",
        sender=LI_MAIL,
        auth=[
            "mx.evil.example; dmarc=pass header.from=factory.example",
            f"{MX}.evil.example; dmarc=pass header.from=factory.example",
            "spf=pass smtp.mailfrom=dmarc=pass@evil.example; dmarc=fail",  # not even an authserv-id
        ],
    )
    await deliver(bot, dovecot, raw, mid)
    assert not any("Forged relay" in t for t in fake_telegram.texts_to(ACME_CHAT))
    assert (await escalation(bot)).state == "open"
    [entry] = await spoof_entries(bot)
    assert entry.details["auth"]["reason"] == "no Authentication-Results from the trusted server"


async def test_forged_qc_pass_does_not_change_the_claim(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp, fake_telegram: FakeTelegram
) -> None:
    await seed_orders(bot.db)
    raw, mid = mail(
        "Hello, the straps are torn on 6 pcs of PO-2026-0117. The goods are unused.",
        sender=ACME,
        subject="Defective backpacks",
        files=[("strap1.jpg", jpeg(photo(501))), ("strap2.jpg", jpeg(photo(502)))],
    )
    await deliver(bot, dovecot, raw, mid)
    claim = await one_claim(bot.db)
    before = (claim.state, len(claim.events))
    await smtp.wait_for(lambda s: any(claim.number in r.text for r in s.to(LI_MAIL)))  # QC paged

    raw, mid = mail(f"/claim {claim.number} qc pass looks fine", sender=LI_MAIL, auth=[DMARC_FAIL])
    await deliver(bot, dovecot, raw, mid)
    claim = await one_claim(bot.db)
    assert (claim.state, len(claim.events)) == before
    assert [e.target for e in await spoof_entries(bot)] == ["staff:li"]
    assert not any("confirmed the defect" in r.text for r in smtp.to(ACME))

    # Positive control: the same command, genuinely from Li, is carried out.
    raw, mid = mail(f"/claim {claim.number} qc pass seam", sender=LI_MAIL, auth=[GENUINE])
    await deliver(bot, dovecot, raw, mid)
    claim = await one_claim(bot.db)
    assert claim.state != before[0] and any(e.by == "staff:li" for e in claim.events[before[1] :])
    await smtp.wait_for(lambda s: any("confirmed the defect" in r.text for r in s.to(ACME)))


async def test_the_alert_hour_is_shared_by_every_process(any_db_url: str) -> None:
    """Two bot processes (two engines on one database) racing for the hour's alert: one wins."""
    first, second = Database(any_db_url), Database(any_db_url)
    now = datetime.now(UTC)

    async def take(db: Database, at: datetime) -> bool:
        async with db.write() as s:
            return await throttle.take(s, THROTTLE, at, ALERT_EVERY)

    try:
        assert sorted(await asyncio.gather(take(first, now), take(second, now))) == [False, True]
        later = now + timedelta(minutes=30)
        assert await asyncio.gather(take(first, later), take(second, later)) == [False, False]
        assert not await take(second, now + ALERT_EVERY - timedelta(seconds=1))
        assert await take(second, now + ALERT_EVERY)  # the next hour: one alert again
        assert not await take(first, now + ALERT_EVERY)
    finally:
        await first.dispose()
        await second.dispose()


# ---- auto-link by the client's email_domains ---------------------------------------------------------


async def test_domain_link_needs_the_trusted_servers_dmarc_pass(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    cases = {
        "forged@acme.example": [f"{MX}; spf=pass smtp.mailfrom=dmarc=pass@evil.example; dmarc=fail"],
        "noheader@acme.example": [],
        "unaligned@acme.example": [
            f"{MX}; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example; dmarc=fail "
            "header.from=acme.example"
        ],
        "nodmarc@acme.example": [f"{MX}; dkim=pass header.d=acme.example; spf=pass smtp.mailfrom=acme.org"],
        "elsewhere@acme.example": ["mx.evil.example; dmarc=pass header.from=acme.example"],
        "otherdomain@acme.example": [f"{MX}; dmarc=pass header.from=evil.example"],
        "genuine@acme.example": [f"{MX}; dmarc=pass header.from=acme.example"],
    }
    for sender, auth in cases.items():
        raw, mid = mail("PO-2026-0117 status", sender=sender, auth=auth, subject="Order status")
        await deliver(bot, dovecot, raw, mid)
    async with bot.db.read() as s:
        linked = {
            c.channel_user_id: c.client_id is not None
            for c in (await s.execute(select(Contact).where(Contact.channel_user_id.in_(cases)))).scalars()
        }
    assert linked == {sender: sender == "genuine@acme.example" for sender in cases}
    for sender in cases:
        [got] = smtp.to(sender)
        if sender == "genuine@acme.example":  # positive control: linked and answered with the order
            assert "Order PO-2026-0117: In production" in got.text
        else:
            assert "not linked yet" in got.text and "In production" not in got.text
