"""Defect statistics for the quality report: what went wrong, on which SKU, when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Claim, OrderLine


@dataclass
class QualityStats:
    since: datetime | None
    total: int = 0
    by_sku: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_month: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    by_resolution: dict[str, int] = field(default_factory=dict)
    excluded: int = 0
    replaced_units: int = 0
    ordered_units: dict[str, int] = field(default_factory=dict)  # per SKU, for a defect rate
    affected_units: dict[str, int] = field(default_factory=dict)


async def quality_stats(session: AsyncSession, since: datetime | None = None) -> QualityStats:
    query = select(Claim)
    if since is not None:
        query = query.where(Claim.created_at >= since)
    claims = list((await session.execute(query)).scalars())
    stats = QualityStats(since=since, total=len(claims))
    for c in claims:
        sku = c.sku or "(unknown)"
        stats.by_sku[sku] = stats.by_sku.get(sku, 0) + 1
        category = c.category or "other"
        stats.by_category[category] = stats.by_category.get(category, 0) + 1
        month = c.created_at.strftime("%Y-%m")
        stats.by_month[month] = stats.by_month.get(month, 0) + 1
        stats.by_state[c.state] = stats.by_state.get(c.state, 0) + 1
        if c.resolution:
            stats.by_resolution[c.resolution] = stats.by_resolution.get(c.resolution, 0) + 1
        if c.eligibility != "eligible":
            stats.excluded += 1
        stats.replaced_units += c.replacement_qty or 0
        stats.affected_units[sku] = stats.affected_units.get(sku, 0) + (c.quantity_affected or 0)
    skus = [s for s in stats.by_sku if s != "(unknown)"]
    if skus:
        rows = await session.execute(
            select(OrderLine.sku, func.sum(OrderLine.quantity))
            .where(OrderLine.sku.in_(skus))
            .group_by(OrderLine.sku)
        )
        stats.ordered_units = {sku: int(total or 0) for sku, total in rows}
    return stats
