"""What the email poller remembers about a mailbox, and the thread a reply to an address belongs to.

The last UID handled per (mailbox, UIDVALIDITY) lives in the `counters` table, so a
restart resumes after it instead of refetching; a new UIDVALIDITY (the server renumbered
the mailbox) starts a fresh counter, and Message-ID dedup catches anything seen before.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rowcount
from storage.models import Counter, Message


def uid_counter_name(account: str, mailbox: str, uidvalidity: int) -> str:
    digest = hashlib.sha1(f"{account}\x00{mailbox}".encode()).hexdigest()[:16]
    return f"imap:{digest}:{uidvalidity}"[:64]


async def last_uid(session: AsyncSession, name: str) -> int | None:
    """None when this mailbox/UIDVALIDITY was never polled (the poller then takes UNSEEN mail)."""
    value = (await session.execute(select(Counter.value).where(Counter.name == name))).scalar_one_or_none()
    return None if value is None else int(value)


async def advance_uid(session: AsyncSession, name: str, uid: int) -> None:
    """Move the mark forward only (a slower concurrent poller never moves it back)."""
    result = await session.execute(
        update(Counter).where(Counter.name == name, Counter.value < uid).values(value=uid)
    )
    if rowcount(result) == 0 and await last_uid(session, name) is None:
        session.add(Counter(name=name, value=uid))
        await session.flush()


async def last_thread(session: AsyncSession, address: str, channel: str = "email") -> dict[str, Any] | None:
    """The `extra` of the address's latest inbound mail a person wrote (subject, Message-ID, References)."""
    rows = await session.execute(
        select(Message.payload)
        .where(Message.channel == channel, Message.direction == "in", Message.channel_user_id == address)
        .order_by(Message.id.desc())
        .limit(10)
    )
    for payload in rows.scalars():
        extra = dict((payload or {}).get("extra") or {})
        if extra.get("message_id") and not extra.get("no_reply"):
            return extra
    return None
