"""Gap-free named sequences (claim numbers per year), taken inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Counter


async def next_value(session: AsyncSession, name: str) -> int:
    """Increment and return; the row lock (or SQLite's write lock) serialises concurrent callers."""
    result = await session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    value = result.scalar_one_or_none()
    if value is not None:
        return int(value)
    session.add(Counter(name=name, value=1))
    await session.flush()
    return 1


async def current(session: AsyncSession, name: str) -> int:
    return int(
        (await session.execute(select(Counter.value).where(Counter.name == name))).scalar_one_or_none() or 0
    )
