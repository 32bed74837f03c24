"""Claims, orders and escalations with known times, for checking the reports' figures exactly.

Claims are opened and closed through the claims repository and the real state machine, orders
written through the order write path; only the times are set by the test (the moment each order
shipped is moved to a known date after the write).

What the window since SINCE holds (percentiles by nearest rank):
- claims: 5 opened; 3 closed after 2, 5 and 0.5 days → cycle p50 2.0, p90 5.0;
  BP-220: 3 claims on 2000 units shipped (PO-R1; PO-R2 shipped before SINCE, PO-R3 is not shipped);
  TB-105: 1 claim on 800 units (500 on PO-R1, 300 on PO-R4, an import stored as delivered).
- escalations (`seed_escalations`): 4 opened; acknowledged after 60, 120 and 600 s → MTTA p50 120,
  p90 600; resolved after 3600 and 7200 s → MTTR p50 3600, p90 7200; one never acknowledged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bot.ids import order_key
from handlers.claims.workflow import transition
from handlers.orders.writes import apply_order, parse_order
from storage.models import Client, Escalation, Order, OrderEvent, OrderLine
from storage.repos import claims as claims_repo

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SINCE = "2026-03-01"
BEFORE = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # outside the window

EXPECTED_CLAIMS: dict[str, Any] = {
    "since": "2026-03-01T00:00:00+00:00",
    "count": 5,
    "closed": 3,
    "cycle_days": {"p50": 2.0, "p90": 5.0},
    "by_state": {"closed": 3, "submitted": 2},
    "by_category": {"zipper": 2, "other": 2, "strap": 1},
    "defect_rate_by_sku": {"BP-220": 0.0015, "TB-105": 0.00125},
    "by_sku": {
        "BP-220": {"claims": 3, "units_shipped": 2000, "defect_rate": 0.0015},
        "TB-105": {"claims": 1, "units_shipped": 800, "defect_rate": 0.00125},
    },
}

EXPECTED_ESCALATIONS: dict[str, Any] = {
    "since": "2026-03-01T00:00:00+00:00",
    "count": 4,
    "acknowledged": 3,
    "resolved": 2,
    "mtta_seconds": {"p50": 120.0, "p90": 600.0},
    "mttr_seconds": {"p50": 3600.0, "p90": 7200.0},
    "by_reason": {
        "claim": {
            "count": 1,
            "acknowledged": 1,
            "resolved": 0,
            "mtta_seconds": {"p50": 600.0, "p90": 600.0},
            "mttr_seconds": {"p50": None, "p90": None},
        },
        "handoff": {
            "count": 1,
            "acknowledged": 0,
            "resolved": 0,
            "mtta_seconds": {"p50": None, "p90": None},
            "mttr_seconds": {"p50": None, "p90": None},
        },
        "urgent": {
            "count": 2,
            "acknowledged": 2,
            "resolved": 2,
            "mtta_seconds": {"p50": 60.0, "p90": 120.0},
            "mttr_seconds": {"p50": 3600.0, "p90": 7200.0},
        },
    },
}

# (reason, opened, seconds to acknowledge, seconds to resolve)
ESCALATIONS: list[tuple[str, datetime, float | None, float | None]] = [
    ("urgent", BEFORE, 5, None),  # before the window
    ("urgent", T0, 60, 3600),
    ("urgent", T0, 120, 7200),
    ("claim", T0, 600, None),
    ("handoff", T0, None, None),
]

ORDERS: list[tuple[str, str, list[tuple[str, int]], datetime | None]] = [
    # number, status, lines, when the goods left (None: never)
    ("PO-R1", "shipped", [("BP-220", 2000), ("TB-105", 500)], T0 - timedelta(hours=12)),
    ("PO-R2", "delivered", [("BP-220", 1000)], BEFORE),
    ("PO-R3", "in_production", [("BP-220", 300)], None),
]


async def _line(session: Any, number: str, sku: str) -> OrderLine:
    query = select(OrderLine).join(Order).where(Order.number == number, OrderLine.sku == sku)
    return (await session.execute(query)).scalar_one()


async def seed_orders(db: Any, client_key: str = "acme") -> None:
    """Our orders in place of any others (the demo seed ships some today)."""
    async with db.write() as s:
        await s.execute(delete(Order))
    for number, status, lines, left in ORDERS:
        data: dict[str, Any] = {
            "client": client_key,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
            "status": "in_production",
        }
        async with db.write() as s:
            await apply_order(s, number, parse_order(data), by="test")
        if left is None:
            continue
        change: dict[str, Any] = {"status": status, "carrier": "Maersk", "tracking": f"MSKU-{number}"}
        async with db.write() as s:
            await apply_order(s, number, parse_order(change), by="test")
            order_id = (await s.execute(select(Order.id).where(Order.number == number))).scalar_one()
            await s.execute(
                update(OrderEvent)
                .where(OrderEvent.order_id == order_id, OrderEvent.to_value == status)
                .values(at=left)
            )
    async with db.write() as s:  # an import stored as delivered, without status events
        client = (await s.execute(select(Client).where(Client.key == client_key))).scalar_one()
        order = Order(
            number="PO-R4",
            number_key=order_key("PO-R4"),
            client_id=client.id,
            status="delivered",
            created_at=T0,
        )
        order.lines = [OrderLine(sku="TB-105", quantity=300)]
        s.add(order)


async def _close(session: Any, claim: Any, at: datetime) -> None:
    """QC passes it, the factory is responsible, a follow-up, closed: each step at `at`."""
    for action, extra in (
        ("qc_pass", {"note": "defect visible"}),
        ("resp", {"responsibility": "factory"}),
        ("follow_up", {"note": "credit note sent"}),
        ("close", {}),
    ):
        result = await transition(session, claim, action, by="staff:li", now=at, **extra)
        assert result.ok, result.message


async def seed_claims(db: Any, client_key: str = "acme") -> None:
    await seed_orders(db, client_key)
    day = timedelta(days=1)
    specs: list[tuple[str | None, str | None, datetime, timedelta | None]] = [
        # (order and SKU of the line, category, opened, time to close)
        ("PO-R1/BP-220", "zipper", T0, 2 * day),
        ("PO-R1/BP-220", "zipper", T0, 5 * day),
        ("PO-R1/BP-220", "strap", T0 + day, day / 2),
        ("PO-R1/TB-105", None, T0, None),
        (None, None, T0, None),  # names no order line: in the totals, in no SKU's rate
        ("PO-R2/BP-220", "stitching", BEFORE, day),  # before the window
    ]
    async with db.write() as s:
        client = (await s.execute(select(Client).where(Client.key == client_key))).scalar_one()
        for ref, category, opened, to_close in specs:
            line = await _line(s, *ref.split("/")) if ref else None
            claim = await claims_repo.create(
                s,
                now=opened,
                by="test",
                client_id=client.id,
                order_id=line.order_id if line else None,
                order_line_id=line.id if line else None,
                sku=line.sku if line else "XX-1",
                category=category,
                description="report fixture",
            )
            if to_close is not None:
                await _close(s, claim, opened + to_close)


async def seed_escalations(db: Any) -> None:
    """The rows as the escalation service leaves them (the API test goes through the service)."""
    async with db.write() as s:
        for reason, opened, ack, fix in ESCALATIONS:
            acked = opened + timedelta(seconds=ack) if ack is not None else None
            fixed = opened + timedelta(seconds=fix) if fix is not None else None
            state = "resolved" if fixed else "acknowledged" if acked else "open"
            s.add(
                Escalation(
                    reason=reason,
                    policy="urgent" if reason == "urgent" else "default",
                    state=state,
                    opened_at=opened,
                    acknowledged_by="li" if acked else None,
                    acknowledged_at=acked,
                    resolved_by="li" if fixed else None,
                    resolved_at=fixed,
                )
            )
