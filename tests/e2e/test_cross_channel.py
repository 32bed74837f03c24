"""One client, two channels: the same order history on WhatsApp and by email."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select

from config.settings import EmailSettings
from storage.models import Contact
from tests.channels.test_email import SUPPORT, mail
from tests.conftest import BotHarness, make_settings, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture  # noqa: F401  (fixture)
from tests.fakes.smtp import FakeSmtp
from tests.fakes.twilio import FakeTwilio, whatsapp_settings
from tests.handlers.orders.test_status_whatsapp import say

WA_ACME = "whatsapp:+491701234567"
MAIL_ACME = "buyer@acme.example"


@pytest_asyncio.fixture
async def two_channel_bot(
    tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp, fake_twilio: FakeTwilio
) -> AsyncIterator[BotHarness]:
    from bot.tools.demo import seed

    email = EmailSettings(
        enabled=True, imap_host=dovecot.host, imap_port=dovecot.port, imap_ssl=False,
        imap_username=dovecot.user, imap_password=dovecot.password, mailbox="INBOX", poll_seconds=3600,
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, from_address=SUPPORT,
    )  # fmt: skip
    h = BotHarness(make_settings(tmp_path, db_url, email=email, whatsapp=whatsapp_settings(fake_twilio)))
    await seed(h.db)
    await h.start()
    adapter: Any = h.runtime.adapters["email"]

    async def connected() -> bool:
        return bool(adapter.connected_once.is_set())

    await wait_until(connected, 15)
    yield h
    await h.close()


async def test_same_client_sees_one_order_history_on_whatsapp_and_email(
    two_channel_bot: BotHarness, fake_twilio: FakeTwilio, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = two_channel_bot
    # the order moves on while the client talks on both channels
    resp = await h.api("PUT", "/api/orders/PO-2026-0117", json={
        "client": "acme", "status": "shipped", "carrier": "Maersk", "tracking": "MSKU1234567",
        "eta": "2026-12-20", "spare_ratio": 0.03,
        "lines": [{"sku": "BP-220", "description": "Laptop backpack 15.6in", "quantity": 2000}],
    })  # fmt: skip
    assert resp.status == 200, await resp.text()
    await smtp.wait_to(MAIL_ACME)  # the shipped notice reaches both channels first
    await h.settled()
    on_whatsapp = await say(h, fake_twilio, WA_ACME, "PO-2026-0117 status")
    raw, _ = mail("Where is PO 2026 0117?", sender=MAIL_ACME)
    await append(dovecot, raw)
    replies = await smtp.wait_to(MAIL_ACME, 2)
    by_mail = replies[-1].text
    for needle in ("PO-2026-0117", "Maersk", "MSKU1234567", "2026-12-20", "2000 pcs + 60 spare (3%)"):
        assert needle in on_whatsapp, needle
        assert needle in by_mail, needle
    async with h.db.read() as s:
        contacts = (
            await s.execute(select(Contact).where(Contact.channel_user_id.in_([WA_ACME, MAIL_ACME])))
        ).scalars()
        assert len({c.client_id for c in contacts}) == 1  # both are acme's contacts
