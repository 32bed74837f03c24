"""What the checks of a claim's photos stored: each photo's shot and whether it was good enough."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClaimEvidence


async def shots_taken(session: AsyncSession, claim_id: int) -> list[tuple[str | None, bool]]:
    """(shot, ok) for each checked photo of the claim, in arrival order."""
    rows = await session.execute(
        select(ClaimEvidence.shot, ClaimEvidence.quality)
        .where(ClaimEvidence.claim_id == claim_id, ClaimEvidence.quality.is_not(None))
        .order_by(ClaimEvidence.id)
    )
    return [(shot, bool((q or {}).get("ok"))) for shot, q in rows]


def record_check(row: ClaimEvidence, quality: dict[str, Any], shot: str | None) -> None:
    row.quality = quality
    row.shot = shot
