"""Per-contact message windows for the flood limit: one upsert per handled message."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import Table, bindparam, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ContactFlood, UTCDateTime
from storage.prepared import Prepared


@cache
def _upsert(dialect: str) -> Prepared:
    """Built once per dialect and run on the driver (storage/prepared.py): this runs for every
    handled message."""
    table = cast(Table, ContactFlood.__table__)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    at = bindparam("at", type_=UTCDateTime())
    values = insert(table).values(contact_id=bindparam("contact_id"), window_start=at, received=1)
    expired = table.c.window_start <= bindparam("horizon", type_=UTCDateTime())
    return Prepared(
        values.on_conflict_do_update(
            index_elements=[table.c.contact_id],
            set_={
                "received": case((expired, 1), else_=table.c.received + 1),
                "window_start": case((expired, at), else_=table.c.window_start),
            },
        ).returning(table.c.received)
    )


async def count_message(
    session: AsyncSession, contact_id: int, at: datetime, window: timedelta = timedelta(minutes=1)
) -> int:
    """Count one message of the contact at `at`; return how many its current window now holds.

    A window opens with the first message after the previous one ended and lasts `window`.
    One statement (INSERT … ON CONFLICT DO UPDATE … RETURNING on the primary key): the row
    lock it takes also orders two processes counting the same contact.
    """
    stmt = _upsert(session.get_bind().dialect.name)
    params = {"contact_id": contact_id, "at": at, "horizon": at - window}
    return int(await stmt.scalar(session, params))
