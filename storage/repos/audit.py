"""The audit log: who did what to which record, kept in the transaction that did it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog


async def record(
    session: AsyncSession, actor: str, action: str, target: str | None = None, **details: Any
) -> None:
    session.add(AuditLog(actor=actor, action=action, target=target, details=details))


async def entries_for(session: AsyncSession, target: str) -> list[AuditLog]:
    return list(
        (
            await session.execute(select(AuditLog).where(AuditLog.target == target).order_by(AuditLog.id))
        ).scalars()
    )
