"""Claims by email: several attachments in one mail join one claim; the thread carries [CLM-…].

Mail goes in through a real Dovecot mailbox (IMAP IDLE) and out through aiosmtpd, as in
tests/test_email.py, whose fixtures this module reuses.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.tools.demo import seed
from storage.repos import staff as staff_repo
from tests.channels.test_email import ACME, adapter_of, bot, email_settings, mail, make_bot
from tests.claim_fixtures import jpeg, one_claim, photo, seed_orders
from tests.conftest import BotHarness, make_settings, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp

__all__ = ["bot", "dovecot_fixture", "make_bot"]
NUMBER = f"CLM-{datetime.now(UTC).year}-000001"
QC_MAIL = "qc@factory.example"


async def mail_claims(
    factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp, **sections: Any
) -> BotHarness:
    """The email bot with demo clients, their orders and a QC desk by email; `sections` as make_settings."""
    bot: BotHarness = await factory(
        make_settings(tmp_path, db_url, email=email_settings(dovecot, smtp), **sections)
    )
    await seed(bot.db)
    await seed_orders(bot.db)
    async with bot.db.write() as s:
        await staff_repo.upsert(s, "qc", name="QC desk", email=QC_MAIL, roles=["qc"])
    adapter = adapter_of(bot)

    async def connected() -> bool:
        return adapter.connected_once.is_set()

    await wait_until(connected, 15)
    return bot


async def test_email_with_photos_opens_one_claim_and_threads_by_tag(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    await seed_orders(bot.db)
    async with bot.db.write() as s:
        await staff_repo.upsert(s, "qc", name="QC desk", email=QC_MAIL, roles=["qc"])
    first, second, third = jpeg(photo(401)), jpeg(photo(402)), jpeg(photo(403))
    raw, _mid = mail(
        "Hello, the straps are torn on 6 pcs of PO-2026-0117. The goods are unused.",
        subject="Defective backpacks",
        files=[("image/jpeg", "strap1.jpg", first), ("image/jpeg", "strap2.jpg", second)],
    )
    await append(dovecot, raw)
    [opened] = await smtp.wait_to(ACME)
    await bot.settled()
    claim = await one_claim(bot.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected, claim.unused) == (
        "PO-2026-0117",
        "BP-220",
        6,
        True,
    )
    assert sorted(e.sha256 for e in claim.evidence) == sorted(
        hashlib.sha256(d).hexdigest() for d in (first, second)
    )
    assert NUMBER in opened.text and f"[{NUMBER}]" in opened.message["Subject"]

    [page] = await smtp.wait_to(QC_MAIL)
    assert NUMBER in page.message["Subject"] and "PO-2026-0117" in page.text
    assert sorted(p.get_content() for p in page.message.iter_attachments()) == sorted([first, second])

    # The client answers in the same thread, days later, with one more photo.
    raw, _ = mail(
        "One more photo attached.",
        subject=f"Re: Defective backpacks [{NUMBER}]",
        files=[("image/jpeg", "strap3.jpg", third)],
    )
    await append(dovecot, raw)
    await smtp.wait_to(ACME, 2)
    await bot.settled()
    claim = await one_claim(bot.db)
    assert len(claim.evidence) == 3
    assert f"Added to {NUMBER}" in smtp.to(ACME)[-1].text

    resp = await bot.api(
        "POST", f"/api/claims/{NUMBER}/transition", json={"action": "qc_pass", "by": "qc", "note": "seam"}
    )
    assert resp.status == 200
    notice = (await smtp.wait_to(ACME, 3))[-1]  # review started and defect confirmed, in one mail
    assert "reviewing" in notice.text and "confirmed the defect" in notice.text
    assert f"[{NUMBER}]" in notice.message["Subject"]
