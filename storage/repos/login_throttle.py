"""Sign-in attempt counters, one row per account or client address (see LoginThrottle)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LoginThrottle

T = LoginThrottle


async def take(session: AsyncSession, key: str, now: datetime, forget_after: timedelta) -> int | None:
    """Count one attempt and return the new count, or None while the key is locked (nothing counted).

    One statement: concurrent callers queue on the row (PostgreSQL's row lock, SQLite's write
    lock), each sees the count the previous one left, and the WHERE re-reads `locked_until`
    after waiting. A key quiet for `forget_after` starts again at 1.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = T.last_at < now - forget_after
    stmt = (
        insert(T)
        .values(key=key, count=1, last_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[T.key],
            set_={"count": case((stale, 1), else_=T.count + 1), "last_at": now},
            where=or_(T.locked_until.is_(None), T.locked_until <= now),
        )
        .returning(T.count)
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return None if value is None else int(value)


async def lock(session: AsyncSession, key: str, until: datetime) -> None:
    """Refuse the key until `until`, never shortening a lock already further out."""
    await session.execute(
        update(T)
        .where(T.key == key, or_(T.locked_until.is_(None), T.locked_until < until))
        .values(locked_until=until)
    )


async def refund(session: AsyncSession, key: str) -> None:
    """Give back one counted attempt (a successful sign-in is not a guess)."""
    await session.execute(update(T).where(T.key == key, T.count > 0).values(count=T.count - 1))


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(T).where(T.key == key))


async def get(session: AsyncSession, key: str) -> LoginThrottle | None:
    return (await session.execute(select(T).where(T.key == key))).scalar_one_or_none()


async def purge(session: AsyncSession, before: datetime) -> None:
    """Rows quiet since `before` and not locked: counts nobody will look at again."""
    await session.execute(
        delete(T).where(T.last_at < before, or_(T.locked_until.is_(None), T.locked_until < before))
    )
