"""The audit log: who did what to which record, kept in the transaction that did it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog, utcnow
from storage.prepared import Prepared, named

_TABLE = cast(Table, AuditLog.__table__)
# A prepared INSERT (storage/prepared.py), not an ORM object to flush: handling writes one for
# many messages (an order looked up, a claim filed).
_INSERT = Prepared(insert(_TABLE).values(named(_TABLE, "at", "actor", "action", "target", "details")))


async def record(
    session: AsyncSession, actor: str, action: str, target: str | None = None, **details: Any
) -> None:
    values = {"at": utcnow(), "actor": actor, "action": action, "target": target, "details": details}
    await _INSERT.rows(session, values)


async def entries_for(session: AsyncSession, target: str) -> list[AuditLog]:
    return list(
        (
            await session.execute(select(AuditLog).where(AuditLog.target == target).order_by(AuditLog.id))
        ).scalars()
    )
