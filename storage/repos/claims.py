"""Claims, their events and evidence, and the replacements they book against order lines.

Orders themselves are read through storage/repos/orders.py (scoped to one client there,
so a claim dialog never shows a client another client's order). Replacements are booked
against the order line (`replaced_qty`, `spares_used`) in the same transaction as the
claim's transition, with the spare units computed by `orders.spare_units`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.ids import claim_number, claim_number_like, parse_claim
from bot.states import ClaimState
from storage.models import (
    AttachmentRow,
    Claim,
    ClaimEvent,
    ClaimEvidence,
    Client,
    Contact,
    Order,
    OrderLine,
    utcnow,
)
from storage.repos import audit, counters
from storage.repos.cursors import decode_cursor, encode_cursor
from storage.repos.orders import spare_units

# ---- replacements, booked against the order line -------------------------------------------------


def spares_available(line: OrderLine, spare_ratio: float) -> int:
    return max(0, spare_units(line.quantity, spare_ratio) - (line.spares_used or 0))


async def book_replacement(session: AsyncSession, line_id: int, qty: int) -> tuple[OrderLine, int]:
    """Add `qty` to the line's replacements; take what the line's spare units still cover.

    Returns the line and the number of spare units this replacement uses.
    """
    line = await session.get(OrderLine, line_id, with_for_update=True)
    if line is None:
        raise LookupError(f"order line {line_id} not found")
    order = await session.get(Order, line.order_id)
    ratio = order.spare_ratio if order else 0.0
    use = min(qty, spares_available(line, ratio))
    line.replaced_qty = (line.replaced_qty or 0) + qty
    line.spares_used = (line.spares_used or 0) + use
    await session.flush()
    return line, use


# ---- claims ---------------------------------------------------------------------------------------


def _claim_query() -> Any:
    return select(Claim).options(selectinload(Claim.events), selectinload(Claim.evidence))


async def create(session: AsyncSession, *, now: datetime, by: str, **fields: Any) -> Claim:
    """A new claim in state `submitted`, numbered CLM-YYYY-NNNNNN from the year's counter."""
    seq = await counters.next_value(session, f"claim:{now.year}")
    claim = Claim(number=claim_number(now.year, seq), state=ClaimState.SUBMITTED, created_at=now, **fields)
    session.add(claim)
    await session.flush()
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            at=now,
            by=by,
            from_state=None,
            to_state=ClaimState.SUBMITTED,
            note=claim.description,
        )
    )
    await audit.record(session, by, "claim_opened", claim.number, state=ClaimState.SUBMITTED)
    await session.flush()
    return await get(session, claim.id) or claim


async def get(session: AsyncSession, claim_id: int, *, lock: bool = False) -> Claim | None:
    query = _claim_query().where(Claim.id == claim_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def find(session: AsyncSession, ref: str, *, lock: bool = False) -> Claim | None:
    """`CLM-2026-000017`, `clm2026000017` or the bare `17` (the newest claim with that sequence)."""
    parsed = parse_claim(ref)
    if parsed is None:
        return None
    year, seq = parsed
    if year is not None:
        query = _claim_query().where(Claim.number == claim_number(year, seq))
    else:
        query = (
            _claim_query()
            .where(Claim.number.like(claim_number_like(seq)))
            .order_by(Claim.created_at.desc(), Claim.id.desc())
            .limit(1)
        )
    query = query.execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def add_event(
    session: AsyncSession,
    claim: Claim,
    *,
    by: str,
    to_state: str,
    note: str | None = None,
    now: datetime | None = None,
    action: str = "claim_transition",
    **details: Any,
) -> ClaimEvent:
    """Record a step (or a note, when the state stays) in claim_events and the audit log."""
    at = now or utcnow()
    event = ClaimEvent(claim_id=claim.id, at=at, by=by, from_state=claim.state, to_state=to_state, note=note)
    session.add(event)
    await audit.record(
        session, by, action, claim.number, from_state=claim.state, to_state=to_state, note=note, **details
    )
    claim.state = to_state
    claim.updated_at = at
    await session.flush()
    return event


@dataclass(frozen=True)
class Duplicate:
    claim_number: str
    sha256: str
    distance: int  # 0 for the very same file


async def add_evidence(
    session: AsyncSession,
    claim: Claim,
    *,
    sha256: str,
    mime: str,
    attachment_id: int | None,
    phash: str | None,
    now: datetime | None = None,
) -> ClaimEvidence | None:
    """Attach a stored file; None when this claim already has the very same file."""
    existing = (
        await session.execute(
            select(ClaimEvidence).where(ClaimEvidence.claim_id == claim.id, ClaimEvidence.sha256 == sha256)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return None
    row = ClaimEvidence(
        claim_id=claim.id,
        attachment_id=attachment_id,
        sha256=sha256,
        mime=mime,
        phash=phash,
        added_at=now or utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def evidence_count(session: AsyncSession, claim_id: int) -> int:
    query = select(func.count()).select_from(ClaimEvidence).where(ClaimEvidence.claim_id == claim_id)
    return int((await session.execute(query)).scalar_one())


async def evidence_elsewhere(
    session: AsyncSession, claim_id: int, sha256: str, phash: str | None, near: Any
) -> list[Duplicate]:
    """Evidence in other claims that is this very file, or (by `near(phash_a, phash_b)`) nearly it."""
    found: dict[str, Duplicate] = {}
    rows = await session.execute(
        select(Claim.number, ClaimEvidence.sha256, ClaimEvidence.phash)
        .join(Claim, Claim.id == ClaimEvidence.claim_id)
        .where(ClaimEvidence.claim_id != claim_id)
        .where(or_(ClaimEvidence.sha256 == sha256, ClaimEvidence.phash.is_not(None)))
        .order_by(ClaimEvidence.id)
    )
    for number, other_sha, other_phash in rows:
        if other_sha == sha256:
            found[number] = Duplicate(number, other_sha, 0)
        elif number not in found and phash and other_phash and near(phash, other_phash):
            bits = (int(phash, 16) ^ int(other_phash, 16)).bit_count()
            found[number] = Duplicate(number, other_sha, bits)
    return list(found.values())


async def message_media(session: AsyncSession, message_id: int) -> list[AttachmentRow]:
    """The stored photos and videos of one inbound message (what can be evidence)."""
    return list(
        (
            await session.execute(
                select(AttachmentRow)
                .where(
                    AttachmentRow.message_id == message_id,
                    AttachmentRow.sha256.is_not(None),
                    AttachmentRow.stored_path.is_not(None),
                    AttachmentRow.error.is_(None),
                    AttachmentRow.kind.in_(["photo", "video"]),
                )
                .order_by(AttachmentRow.id)
            )
        ).scalars()
    )


async def attachments_by_id(session: AsyncSession, ids: list[int]) -> list[AttachmentRow]:
    if not ids:
        return []
    return list(
        (
            await session.execute(
                select(AttachmentRow).where(AttachmentRow.id.in_(ids)).order_by(AttachmentRow.id)
            )
        ).scalars()
    )


async def of_contact(
    session: AsyncSession, contact: Contact, client_id: int | None, *, states: set[str] | None = None
) -> list[Claim]:
    """Claims this sender may see: their own, and (when verified) their client's. Newest first."""
    cond = Claim.contact_id == contact.id
    if client_id is not None:
        cond = or_(cond, Claim.client_id == client_id)
    query = _claim_query().where(cond).order_by(Claim.created_at.desc(), Claim.id.desc())
    if states:
        query = query.where(Claim.state.in_(states))
    return list((await session.execute(query)).scalars())


async def contact_of(session: AsyncSession, claim: Claim) -> Contact | None:
    return await session.get(Contact, claim.contact_id) if claim.contact_id else None


async def client_of(session: AsyncSession, claim: Claim) -> Client | None:
    return await session.get(Client, claim.client_id) if claim.client_id else None


async def list_claims(
    session: AsyncSession,
    *,
    limit: int = 50,
    cursor: str | None = None,
    state: str | None = None,
    client_key: str | None = None,
    order_key: str | None = None,
    order_number: str | None = None,
    sku: str | None = None,
) -> tuple[list[Claim], str | None]:
    """Newest first, keyset pagination on (created_at, id). Raises ValueError on a bad cursor."""
    query = _claim_query()
    if state:
        query = query.where(Claim.state == state)
    if client_key:
        query = query.join(Client, Client.id == Claim.client_id).where(Client.key == client_key)
    if order_key:
        query = query.outerjoin(Order, Order.id == Claim.order_id).where(
            or_(Order.number_key == order_key, Claim.order_number == (order_number or order_key))
        )
    if sku:
        query = query.where(Claim.sku == sku)
    if cursor:
        at, row_id = decode_cursor(cursor)
        query = query.where(or_(Claim.created_at < at, and_(Claim.created_at == at, Claim.id < row_id)))
    query = query.order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, nxt


async def client_keys(session: AsyncSession, claims: list[Claim]) -> dict[int, str]:
    ids = {c.client_id for c in claims if c.client_id}
    if not ids:
        return {}
    rows = await session.execute(select(Client.id, Client.key).where(Client.id.in_(ids)))
    return {cid: key for cid, key in rows}


def claim_json(
    claim: Claim, *, client_key: str | None = None, media_url: Any = None, now: datetime | None = None
) -> dict[str, Any]:
    """The API shape (see README.md): id, state, order, sku, client, description, unused, evidence, events."""
    return {
        "id": claim.number,
        "number": claim.id,
        "state": claim.state,
        "order": claim.order_number,
        "order_known": claim.order_id is not None,
        "sku": claim.sku,
        "client": client_key,
        "description": claim.description,
        "unused": claim.unused,
        "quantity_affected": claim.quantity_affected,
        "eligibility": claim.eligibility,
        "responsibility": claim.responsibility,
        "resolution": claim.resolution,
        "replacement_qty": claim.replacement_qty,
        "spares_used": claim.spares_used,
        "language": claim.language,
        "evidence": [
            {
                "sha256": e.sha256,
                "mime": e.mime,
                "phash": e.phash,
                "url": media_url(e) if media_url else None,
                "added_at": e.added_at.isoformat(),
                "ocr_text": e.ocr_text,  # what was read on the photo (a carton label); None: not read
                "ocr": e.ocr,  # {"orders", "skus", "cartons", "order": the claim's order when it is on it}
                "shot": e.shot,
                "quality": e.quality,  # {"width", "height", "sharpness", "ok", "problems"}; None: not checked
            }
            for e in claim.evidence
        ],
        "missing_shots": claim.missing_shots,  # the shots still without a good photo; None: not checked
        "no_more_photos": claim.no_more_photos_at is not None,
        "events": [
            {"at": ev.at.isoformat(), "by": ev.by, "from": ev.from_state, "to": ev.to_state, "note": ev.note}
            for ev in claim.events
        ],
        "created_at": claim.created_at.isoformat(),
        "updated_at": claim.updated_at.isoformat() if claim.updated_at else None,
        "closed_at": claim.closed_at.isoformat() if claim.closed_at else None,
    }
