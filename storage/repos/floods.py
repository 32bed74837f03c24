"""Per-contact message windows for the flood limit: one upsert per handled message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ContactFlood


async def count_message(
    session: AsyncSession, contact_id: int, at: datetime, window: timedelta = timedelta(minutes=1)
) -> int:
    """Count one message of the contact at `at`; return how many its current window now holds.

    A window opens with the first message after the previous one ended and lasts `window`.
    One statement (INSERT … ON CONFLICT DO UPDATE … RETURNING on the primary key): the row
    lock it takes also orders two processes counting the same contact.
    """
    table = cast(Table, ContactFlood.__table__)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = insert(table).values(contact_id=contact_id, window_start=at, received=1)
    expired = table.c.window_start <= at - window
    stmt = values.on_conflict_do_update(
        index_elements=[table.c.contact_id],
        set_={
            "received": case((expired, 1), else_=table.c.received + 1),
            "window_start": case((expired, values.excluded.window_start), else_=table.c.window_start),
        },
    ).returning(table.c.received)
    return int((await session.execute(stmt)).scalar_one())
