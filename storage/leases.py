"""Advisory locks: how several processes on one PostgreSQL take turns without a table of locks.

Two kinds. A transaction lock (`pg_try_advisory_xact_lock`) leases one conversation for
the transaction that handles its oldest message, or serialises outbox claims; it ends
with the transaction, so a killed process gives it back the moment PostgreSQL sees its
connection close. A session lock (`pg_try_advisory_lock`, see storage/leadership.py)
makes one process the leader of a singleton for as long as its connection lives.

SQLite is one process with one writer: every lock is granted at once.
"""

from __future__ import annotations

import hashlib
import os
import socket

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.db import dialect_of


def lock_key(namespace: str, *parts: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint) for a name; namespaces keep kinds of lock apart."""
    digest = hashlib.blake2b("\x1f".join((namespace, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def conversation_key(channel: str, channel_user_id: str) -> int:
    return lock_key("conversation", channel, channel_user_id)


OUTBOX_CLAIM = lock_key("outbox-claim")
MIGRATIONS = lock_key("migrations")


async def try_xact_lock(session: AsyncSession, key: int) -> bool:
    """True if this transaction now holds `key` (until it commits or rolls back)."""
    if dialect_of(session) != "postgresql":
        return True
    result = await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
    return bool(result.scalar_one())


async def xact_lock(on: AsyncSession | AsyncConnection, key: int) -> None:
    """Wait for `key`, held until this transaction ends (short critical sections only)."""
    if dialect_of(on) == "postgresql":
        await on.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def default_instance() -> str:
    """`hostname:pid`: unique among live processes, and readable in /healthz and the outbox's leases."""
    return f"{socket.gethostname()}:{os.getpid()}"
