"""Console sessions: rows keyed by a hash of the cookie's session id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsoleSession


async def create(
    session: AsyncSession, id_hash: str, staff_key: str, csrf: str, expires_at: datetime, ip: str | None
) -> None:
    session.add(ConsoleSession(id_hash=id_hash, staff_key=staff_key, csrf=csrf, expires_at=expires_at, ip=ip))
    await session.flush()


async def get_live(session: AsyncSession, id_hash: str, now: datetime) -> ConsoleSession | None:
    return (
        await session.execute(
            select(ConsoleSession).where(ConsoleSession.id_hash == id_hash, ConsoleSession.expires_at > now)
        )
    ).scalar_one_or_none()


async def delete_one(session: AsyncSession, id_hash: str) -> int:
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == id_hash))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_for_staff(session: AsyncSession, staff_key: str) -> int:
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.staff_key == staff_key))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
