"""Orders, their lines and events, SKU prevention notes, client feedback, and what went wrong before.

Orders are looked up by `number_key` (the number folded to letters and digits, computed by
the caller with `bot.ids.order_key`), so "po 2026 0117" finds "PO-2026-0117".
Every lookup a client can trigger goes through `for_client`, which filters on the client
in SQL: a number that belongs to someone else is indistinguishable from one that does not
exist. Claims are read here (never written) to build the repeat-order memory.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Claim, Client, Feedback, Order, OrderEvent, OrderLine, SkuNote, utcnow

STATUSES = ("confirmed", "in_production", "qc", "packed", "shipped", "delivered", "on_hold", "cancelled")
CLOSED_STATUSES = ("delivered", "cancelled")


def spare_units(quantity: int, spare_ratio: float) -> int:
    """ceil(quantity × ratio), computed in decimal so 2000 × 0.03 is 60, not 61."""
    if not spare_ratio or quantity <= 0:
        return 0
    return math.ceil(Decimal(quantity) * Decimal(str(spare_ratio)))


def _with_children() -> list[Any]:
    return [selectinload(Order.lines), selectinload(Order.events)]


async def by_key(session: AsyncSession, number_key: str) -> Order | None:
    return (
        await session.execute(select(Order).where(Order.number_key == number_key).options(*_with_children()))
    ).scalar_one_or_none()


async def for_client(session: AsyncSession, client_id: int, number_keys: list[str]) -> Order | None:
    """The first of `number_keys` that is an order of this client; None says nothing about others."""
    for key in number_keys:
        order = (
            await session.execute(
                select(Order)
                .where(Order.number_key == key, Order.client_id == client_id)
                .options(*_with_children())
            )
        ).scalar_one_or_none()
        if order is not None:
            return order
    return None


async def by_id(session: AsyncSession, order_id: int) -> Order | None:
    return (
        await session.execute(select(Order).where(Order.id == order_id).options(*_with_children()))
    ).scalar_one_or_none()


async def keys_of_client(session: AsyncSession, client_id: int) -> list[tuple[int, str]]:
    """(id, number key) of each of the client's orders: a label read as "P0-…" still finds its own."""
    rows = await session.execute(select(Order.id, Order.number_key).where(Order.client_id == client_id))
    return [(order_id, key) for order_id, key in rows.all()]


async def of_client(session: AsyncSession, client_id: int, number_keys: list[str]) -> list[Order]:
    """Every one of `number_keys` that is an order of this client, oldest first (an alert's context)."""
    if not number_keys:
        return []
    rows = await session.execute(
        select(Order)
        .where(Order.client_id == client_id, Order.number_key.in_(number_keys))
        .order_by(Order.id)
    )
    return list(rows.scalars())


async def recent_for_client(session: AsyncSession, client_id: int, limit: int = 3) -> list[Order]:
    """The client's newest orders that are not cancelled (the claim dialog offers them as buttons)."""
    return list(
        (
            await session.execute(
                select(Order)
                .where(Order.client_id == client_id, Order.status != "cancelled")
                .order_by(Order.created_at.desc(), Order.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


async def open_orders(session: AsyncSession, client_id: int, limit: int = 8) -> list[Order]:
    return list(
        (
            await session.execute(
                select(Order)
                .where(Order.client_id == client_id, Order.status.not_in(CLOSED_STATUSES))
                .order_by(Order.updated_at.desc(), Order.id.desc())
                .limit(limit)
                .options(*_with_children())
            )
        ).scalars()
    )


async def add_event(
    session: AsyncSession,
    order: Order,
    kind: str,
    *,
    from_value: str | None,
    to_value: str | None,
    by: str,
    note: str | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    event = OrderEvent(
        order_id=order.id,
        kind=kind,
        from_value=from_value,
        to_value=to_value,
        by=by,
        note=note,
        at=at or utcnow(),
    )
    session.add(event)
    await session.flush()
    return event


async def events_of(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    return list(
        (
            await session.execute(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        ).scalars()
    )


# ---- SKU prevention notes --------------------------------------------------------------------------


async def add_sku_note(session: AsyncSession, sku: str, note: str, by: str) -> SkuNote:
    row = SkuNote(sku=sku.strip().upper(), note=note.strip(), by=by)
    session.add(row)
    await session.flush()
    return row


async def sku_notes(session: AsyncSession, skus: list[str]) -> list[SkuNote]:
    wanted = sorted({s.upper() for s in skus})
    if not wanted:
        return []
    return list(
        (
            await session.execute(
                select(SkuNote).where(func.upper(SkuNote.sku).in_(wanted)).order_by(SkuNote.id)
            )
        ).scalars()
    )


# ---- repeat-order memory -----------------------------------------------------------------------------


async def prior_issues(
    session: AsyncSession, client_id: int, skus: list[str], *, exclude_order_id: int | None = None
) -> list[dict[str, Any]]:
    """Per SKU of the order: earlier claims (this client's first), categories, resolutions, notes.

    Only SKUs with at least one earlier claim or prevention note appear.
    """
    wanted = sorted({s.upper() for s in skus})
    if not wanted:
        return []
    query = (
        select(Claim, Client.key)
        .outerjoin(Client, Client.id == Claim.client_id)
        .where(func.upper(Claim.sku).in_(wanted))
        .order_by(Claim.created_at, Claim.id)
    )
    if exclude_order_id is not None:
        query = query.where((Claim.order_id.is_(None)) | (Claim.order_id != exclude_order_id))
    claims = list((await session.execute(query)).all())
    notes = await sku_notes(session, wanted)
    result: list[dict[str, Any]] = []
    for sku in wanted:
        mine = [(c, k) for c, k in claims if (c.sku or "").upper() == sku]
        sku_notes_ = [n for n in notes if n.sku.upper() == sku]
        if not mine and not sku_notes_:
            continue
        mine.sort(key=lambda ck: (ck[0].client_id != client_id, ck[0].created_at))
        categories: dict[str, int] = {}
        resolutions: dict[str, int] = {}
        for claim, _key in mine:
            categories[claim.category or "uncategorised"] = (
                categories.get(claim.category or "uncategorised", 0) + 1
            )
            if claim.resolution:
                resolutions[claim.resolution] = resolutions.get(claim.resolution, 0) + 1
        result.append(
            {
                "sku": sku,
                "claims_same_client": sum(1 for c, _ in mine if c.client_id == client_id),
                "claims_other_clients": sum(1 for c, _ in mine if c.client_id != client_id),
                "categories": categories,
                "resolutions": resolutions,
                "claims": [
                    {
                        "id": c.number,
                        "order": c.order_number,
                        "same_client": c.client_id == client_id,
                        "client": k,
                        "state": c.state,
                        "category": c.category,
                        "resolution": c.resolution,
                        "description": c.description,
                        "created_at": c.created_at.isoformat(),
                    }
                    for c, k in mine
                ],
                "notes": [{"note": n.note, "by": n.by, "at": n.at.isoformat()} for n in sku_notes_],
            }
        )
    return result


# ---- feedback -----------------------------------------------------------------------------------


async def record_feedback(
    session: AsyncSession, claim_id: int, score: int, comment: str | None = None
) -> Feedback:
    """The client's 1–5 after a claim closed, kept with the claim's order, client and SKU."""
    claim = await session.get(Claim, claim_id)
    row = Feedback(
        claim_id=claim_id,
        order_id=claim.order_id if claim else None,
        client_id=claim.client_id if claim else None,
        sku=claim.sku if claim else None,
        score=score,
        comment=comment,
    )
    session.add(row)
    await session.flush()
    return row


async def feedback_for_claim(session: AsyncSession, claim_id: int) -> list[Feedback]:
    return list(
        (
            await session.execute(select(Feedback).where(Feedback.claim_id == claim_id).order_by(Feedback.id))
        ).scalars()
    )


# ---- JSON ----------------------------------------------------------------------------------------


def _num(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def line_json(line: OrderLine, spare_ratio: float) -> dict[str, Any]:
    return {
        "sku": line.sku,
        "description": line.description,
        "material": line.material,
        "quantity": line.quantity,
        "spare_units": spare_units(line.quantity, spare_ratio),
        "unit_price": _num(line.unit_price),
        "currency": line.currency,
        "hs_code": line.hs_code,
        "origin": line.origin,
        "packaging": line.packaging,
        "cartons": line.cartons,
        "carton_cm": line.carton_cm,
        "gross_kg": line.gross_kg,
        "net_kg": line.net_kg,
    }


def order_json(order: Order, client_key: str, prior: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "number": order.number,
        "client": client_key,
        "status": order.status,
        "pi_number": order.pi_number,
        "incoterm": order.incoterm,
        "eta": _day(order.eta),
        "carrier": order.carrier,
        "tracking": order.tracking,
        "spare_ratio": order.spare_ratio,
        "port_of_loading": order.port_of_loading,
        "port_of_discharge": order.port_of_discharge,
        "payment_terms": order.payment_terms,
        "lines": [line_json(line, order.spare_ratio) for line in order.lines],
        "events": [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "from": e.from_value,
                "to": e.to_value,
                "by": e.by,
                "note": e.note,
            }
            for e in order.events
        ],
        "prior_issues": prior if prior is not None else [],
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }
