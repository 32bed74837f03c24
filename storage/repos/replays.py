"""Accepted WeChat request triples: remembered once, a second insert of the same one is a replay."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WeChatReplay


async def remember(session: AsyncSession, timestamp: int, nonce: str, signature: str) -> bool:
    """True the first time this triple is seen; False when it was already accepted.

    INSERT … ON CONFLICT DO NOTHING on the primary key: two processes racing on the same
    triple both reach the database, and exactly one of them gets the row.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(WeChatReplay)
        .values(timestamp=timestamp, nonce=nonce, signature=signature)
        .on_conflict_do_nothing(index_elements=["timestamp", "nonce", "signature"])
        .returning(WeChatReplay.timestamp)
    )
    return (await session.execute(stmt)).first() is not None


async def prune(session: AsyncSession, older_than: int) -> int:
    """Forget triples whose timestamp is before `older_than`: the clock window refuses them anyway."""
    result = await session.execute(delete(WeChatReplay).where(WeChatReplay.timestamp < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
