"""Which conversations were told about which factory closure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models import ClosureNotice


async def first_notice(session: AsyncSession, conversation_id: int, closure: str, at: datetime) -> bool:
    """Record the notice; True only for the first caller, so two processes never both send it."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(ClosureNotice)
        .values(conversation_id=conversation_id, closure=closure, sent_at=at)
        .on_conflict_do_nothing(index_elements=[ClosureNotice.conversation_id, ClosureNotice.closure])
        .returning(ClosureNotice.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
