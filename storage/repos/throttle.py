"""At most one of something per interval, across every process sharing the database.

The time of the last permitted event is an epoch second in the `counters` table; taking the
next one is a single conditional upsert, so two processes racing for it cannot both win
(PostgreSQL re-checks the condition on the locked row, SQLite serialises writers).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Counter


async def take(session: AsyncSession, name: str, now: datetime, interval: timedelta) -> bool:
    """True (and the interval restarts) when the last event named `name` is `interval` ago or never."""
    stamp = int(now.timestamp())
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(Counter)
        .values(name=name, value=stamp)
        .on_conflict_do_update(
            index_elements=[Counter.name],
            set_={"value": stamp},
            where=Counter.value <= stamp - int(interval.total_seconds()),
        )
        .returning(Counter.value)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
