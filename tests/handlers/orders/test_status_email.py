"""Orders through email: a real Dovecot mailbox in, a real aiosmtpd server out.

Senders from a client's domain are linked automatically when our receiving server's
Authentication-Results vouch for them (dmarc=pass); documents arrive as PDF attachments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select

from config.settings import EmailSettings
from storage.models import AuditLog, Contact
from tests.channels.test_email import MX, SUPPORT, mail
from tests.conftest import BotHarness, make_settings, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture  # noqa: F401  (fixture)
from tests.fakes.orders import ORDER_0117_DATA, pdf_text
from tests.fakes.smtp import FakeSmtp

ACME = "buyer@acme.example"  # a listed contact of "acme"
NEW_AT_ACME = "logistics@acme.example"  # not listed, but acme's domain
GOOD_AUTH = (
    "mx.factory.example; dkim=pass header.d=acme.example; spf=pass; dmarc=pass header.from=acme.example"
)
BAD_AUTH = (
    "mx.factory.example; dkim=fail header.d=acme.example; spf=fail; dmarc=fail header.from=acme.example"
)


@pytest_asyncio.fixture
async def mail_bot(
    tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> AsyncIterator[BotHarness]:
    from bot.tools.demo import seed

    email = EmailSettings(
        enabled=True, imap_host=dovecot.host, imap_port=dovecot.port, imap_ssl=False,
        imap_username=dovecot.user, imap_password=dovecot.password, mailbox="INBOX", poll_seconds=3600,
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, from_address=SUPPORT,
        trusted_authserv_id=MX,
    )  # fmt: skip
    h = BotHarness(make_settings(tmp_path, db_url, email=email))
    await seed(h.db)
    await h.start()
    adapter: Any = h.runtime.adapters["email"]

    async def connected() -> bool:
        return bool(adapter.connected_once.is_set())

    await wait_until(connected, 15)
    yield h
    await h.close()


async def test_new_sender_from_the_clients_domain_is_linked_and_answered(
    mail_bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("PO-2026-0117 status", sender=NEW_AT_ACME, headers={"Authentication-Results": GOOD_AUTH})
    await append(dovecot, raw)
    [got] = await smtp.wait_to(NEW_AT_ACME)
    assert "Order PO-2026-0117: In production" in got.text and "2000 pcs + 60 spare (3%)" in got.text
    async with mail_bot.db.read() as s:
        contact = (
            await s.execute(select(Contact).where(Contact.channel_user_id == NEW_AT_ACME))
        ).scalar_one()
    assert contact.client_id is not None


async def test_forged_sender_is_not_linked_and_sees_nothing(
    mail_bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("PO-2026-0117 status", sender=NEW_AT_ACME, headers={"Authentication-Results": BAD_AUTH})
    await append(dovecot, raw)
    [got] = await smtp.wait_to(NEW_AT_ACME)
    for item in ORDER_0117_DATA:
        assert item not in got.text
    assert "not linked yet" in got.text
    async with mail_bot.db.read() as s:
        contact = (
            await s.execute(select(Contact).where(Contact.channel_user_id == NEW_AT_ACME))
        ).scalar_one()
        refused = (
            await s.execute(select(AuditLog).where(AuditLog.action == "email_domain_link_refused"))
        ).scalar_one()
    assert contact.client_id is None and refused.details["auth"]["dmarc"] == "fail"


async def test_commercial_invoice_arrives_as_a_pdf_attachment(
    mail_bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("Please send the commercial invoice for PO-2026-0117", sender=ACME, subject="Invoice")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    [pdf] = [p for p in got.message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "PO-2026-0117-commercial-invoice.pdf"
    text = pdf_text(pdf.get_payload(decode=True))
    assert "Commercial Invoice" in text and "Total amount / 总金额: USD 18,600.00" in text


async def test_shipped_notice_is_mailed_to_the_clients_address(
    mail_bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    resp = await mail_bot.api(
        "PUT",
        "/api/orders/PO-2026-0117",
        json={"status": "shipped", "carrier": "Maersk", "tracking": "MSKU9"},
    )
    assert resp.status == 200
    [got] = await smtp.wait_to(ACME)
    assert "PO-2026-0117 has shipped" in got.text and "MSKU9" in got.text
