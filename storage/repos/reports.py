"""Response times and claim figures for the reports (API, console, `aftersales report quality`).

The database only selects the rows of the period; durations and percentiles are worked out
here, in Python, so the same code gives the same numbers on SQLite and PostgreSQL (a few
thousand rows a year: no need for percentile_cont, which SQLite lacks).

Percentiles use the nearest-rank method: p-th percentile = the smallest observed value with at
least p % of the values at or below it (sorted values v₁…vₙ → v at rank ⌈p/100 · n⌉). It always
returns a time that really happened, and None when there is nothing to measure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Claim, Escalation, Order, OrderEvent, OrderLine, UTCDateTime

SHIPPED = ("shipped", "delivered")
NO_CATEGORY = "other"  # as the quality statistics name a claim the parser could not place


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of `values` (any order); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """p50 and p90 of one measure; both None when nothing was measured."""

    p50: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Sequence[float], ndigits: int) -> Spread:
        def rounded(v: float | None) -> float | None:
            return None if v is None else round(v, ndigits)

        return cls(rounded(percentile(values, 50)), rounded(percentile(values, 90)))

    def as_json(self) -> dict[str, float | None]:
        return {"p50": self.p50, "p90": self.p90}


@dataclass(frozen=True)
class ResponseTimes:
    """Escalations of one group: how many, how many were taken, and how fast."""

    count: int
    acknowledged: int
    resolved: int
    mtta_seconds: Spread
    mttr_seconds: Spread

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
            "mtta_seconds": self.mtta_seconds.as_json(),
            "mttr_seconds": self.mttr_seconds.as_json(),
        }


@dataclass(frozen=True)
class EscalationReport:
    since: datetime | None
    total: ResponseTimes
    by_reason: dict[str, ResponseTimes]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            **self.total.as_json(),
            "by_reason": {reason: group.as_json() for reason, group in self.by_reason.items()},
        }


def _times(rows: Sequence[tuple[datetime, datetime | None, datetime | None]]) -> ResponseTimes:
    acks = [(ack - opened).total_seconds() for opened, ack, _ in rows if ack is not None]
    fixes = [(done - opened).total_seconds() for opened, _, done in rows if done is not None]
    return ResponseTimes(
        count=len(rows),
        acknowledged=len(acks),
        resolved=len(fixes),
        mtta_seconds=Spread.of(acks, 3),
        mttr_seconds=Spread.of(fixes, 3),
    )


async def escalation_report(session: AsyncSession, since: datetime | None = None) -> EscalationReport:
    """Escalations opened on or after `since`: MTTA (acknowledged − opened) and MTTR (resolved − opened).

    An escalation resolved without an acknowledgement counts as acknowledged when it was resolved
    (the service records it so): somebody did answer it then.
    """
    query = select(
        Escalation.reason, Escalation.opened_at, Escalation.acknowledged_at, Escalation.resolved_at
    )
    if since is not None:
        query = query.where(Escalation.opened_at >= since)
    grouped: dict[str, list[tuple[datetime, datetime | None, datetime | None]]] = {}
    every: list[tuple[datetime, datetime | None, datetime | None]] = []
    for reason, opened, acked, resolved in await session.execute(query):
        grouped.setdefault(reason, []).append((opened, acked, resolved))
        every.append((opened, acked, resolved))
    return EscalationReport(
        since=since,
        total=_times(every),
        by_reason={reason: _times(rows) for reason, rows in sorted(grouped.items())},
    )


@dataclass(frozen=True)
class SkuDefects:
    """Claims against an SKU's order lines, over the units of that SKU shipped in the period."""

    claims: int
    units_shipped: int

    @property
    def rate(self) -> float | None:
        return round(self.claims / self.units_shipped, 6) if self.units_shipped else None

    def as_json(self) -> dict[str, Any]:
        return {"claims": self.claims, "units_shipped": self.units_shipped, "defect_rate": self.rate}


@dataclass(frozen=True)
class ClaimReport:
    since: datetime | None
    count: int
    closed: int
    cycle_days: Spread
    by_state: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_sku: dict[str, SkuDefects] = field(default_factory=dict)

    @property
    def defect_rate_by_sku(self) -> dict[str, float]:
        """Only SKUs that shipped in the period: a rate over zero units means nothing."""
        return {sku: d.rate for sku, d in self.by_sku.items() if d.rate is not None}

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "count": self.count,
            "closed": self.closed,
            "cycle_days": self.cycle_days.as_json(),
            "by_state": self.by_state,
            "by_category": self.by_category,
            "defect_rate_by_sku": self.defect_rate_by_sku,
            "by_sku": {sku: d.as_json() for sku, d in self.by_sku.items()},
        }


def _count(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


async def units_shipped(session: AsyncSession, since: datetime | None) -> dict[str, int]:
    """Units per SKU on orders now shipped or delivered whose goods left on or after `since`.

    The goods left at the order's first status event to shipped/delivered; an order stored
    as delivered without events (an import) left when it was created.
    """
    left = (
        select(OrderEvent.order_id, func.min(OrderEvent.at).label("at"))
        .where(OrderEvent.kind == "status", OrderEvent.to_value.in_(SHIPPED))
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    left_at = type_coerce(func.coalesce(left.c.at, Order.created_at), UTCDateTime)
    query = (
        select(OrderLine.sku, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .outerjoin(left, left.c.order_id == Order.id)
        .where(Order.status.in_(SHIPPED))
        .group_by(OrderLine.sku)
    )
    if since is not None:
        query = query.where(left_at >= since)
    return {sku: int(total or 0) for sku, total in await session.execute(query)}


async def claim_report(session: AsyncSession, since: datetime | None = None) -> ClaimReport:
    """Claims opened on or after `since`: cycle time (closed − created, in days) and defect rates.

    A claim counts against an SKU through its order line (the line the client claimed on), so a
    claim that names no order line is in the totals but in no SKU's rate.
    """
    query = select(Claim.state, Claim.category, Claim.created_at, Claim.closed_at, OrderLine.sku).outerjoin(
        OrderLine, OrderLine.id == Claim.order_line_id
    )
    if since is not None:
        query = query.where(Claim.created_at >= since)
    rows = list(await session.execute(query))
    cycles = [(closed - created).total_seconds() / 86400 for _, _, created, closed, _ in rows if closed]
    claimed = _count([sku for *_, sku in rows if sku])
    shipped = await units_shipped(session, since)
    by_sku = {
        sku: SkuDefects(claims=claimed.get(sku, 0), units_shipped=shipped.get(sku, 0))
        for sku in sorted(set(claimed) | set(shipped))
    }
    return ClaimReport(
        since=since,
        count=len(rows),
        closed=len(cycles),
        cycle_days=Spread.of(cycles, 3),
        by_state=_count([state for state, *_ in rows]),
        by_category=_count([category or NO_CATEGORY for _, category, *_ in rows]),
        by_sku=by_sku,
    )
