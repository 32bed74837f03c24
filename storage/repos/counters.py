"""Gap-free named sequences (claim numbers per year), taken inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models import Counter


async def next_value(session: AsyncSession, name: str) -> int:
    """Increment and return; the row lock (or SQLite's write lock) serialises concurrent callers.

    One upsert statement, so two transactions taking the first number of a new name at
    once (two clients' first claims of the year on PostgreSQL) queue on the row instead
    of one failing on the primary key.
    """
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return int((await session.execute(stmt)).scalar_one())


async def current(session: AsyncSession, name: str) -> int:
    return int(
        (await session.execute(select(Counter.value).where(Counter.name == name))).scalar_one_or_none() or 0
    )
