"""Escalations and their alerts: the database is the timer, so every query here is about time or identity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.ids import escalation_number
from bot.states import EscalationState
from storage.db import dialect_of
from storage.models import Alert, Claim, Escalation, Message, OutboxRow, RotaOverride

ACTIVE = (EscalationState.OPEN, EscalationState.ACKNOWLEDGED)


async def get(session: AsyncSession, esc_id: int) -> Escalation | None:
    return (
        await session.execute(
            select(Escalation).where(Escalation.id == esc_id).options(selectinload(Escalation.alerts))
        )
    ).scalar_one_or_none()


async def active_for_conversation(session: AsyncSession, conversation_id: int) -> Escalation | None:
    return (
        await session.execute(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id, Escalation.state.in_(ACTIVE))
            .order_by(Escalation.id.desc())
            .limit(1)
            .options(selectinload(Escalation.alerts))
        )
    ).scalar_one_or_none()


async def due_ids(session: AsyncSession, now: datetime, limit: int = 50) -> list[int]:
    """Open escalations whose next step is due; locked and skipped by other processes on PostgreSQL."""
    query = (
        select(Escalation.id)
        .where(
            Escalation.state == EscalationState.OPEN,
            Escalation.next_due_at.is_not(None),
            Escalation.next_due_at <= now,
        )
        .order_by(Escalation.next_due_at, Escalation.id)
        .limit(limit)
    )
    if dialect_of(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


async def lock(session: AsyncSession, esc_id: int) -> Escalation | None:
    """Re-read one escalation under a row lock (PostgreSQL); SQLite's writer lock already serialises."""
    query = select(Escalation).where(Escalation.id == esc_id).options(selectinload(Escalation.alerts))
    if dialect_of(session) == "postgresql":
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def list_escalations(
    session: AsyncSession,
    *,
    limit: int = 50,
    before_id: int | None = None,
    state: str | None = None,
    reason: str | None = None,
    staff: str | None = None,
) -> tuple[list[Escalation], int | None]:
    query = select(Escalation).options(selectinload(Escalation.alerts)).order_by(Escalation.id.desc())
    if state:
        query = query.where(Escalation.state == state)
    if reason:
        query = query.where(Escalation.reason == reason)
    if staff:
        query = query.where(
            or_(
                Escalation.acknowledged_by == staff,
                Escalation.id.in_(select(Alert.escalation_id).where(Alert.staff_key == staff)),
            )
        )
    if before_id is not None:
        query = query.where(Escalation.id < before_id)
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1].id
    return rows, None


async def active_list(session: AsyncSession) -> list[Escalation]:
    return list(
        (
            await session.execute(
                select(Escalation).where(Escalation.state.in_(ACTIVE)).order_by(Escalation.id)
            )
        ).scalars()
    )


async def add_alert(
    session: AsyncSession,
    esc: Escalation,
    staff_key: str,
    channel: str,
    level: int,
    round_: int,
    at: datetime,
) -> Alert | None:
    """One page per staff member per level and round (a unique constraint backs this up)."""
    existing = (
        await session.execute(
            select(Alert).where(
                Alert.escalation_id == esc.id,
                Alert.staff_key == staff_key,
                Alert.level == level,
                Alert.round == round_,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return None
    alert = Alert(
        escalation_id=esc.id, staff_key=staff_key, channel=channel, level=level, round=round_, at=at
    )
    session.add(alert)
    await session.flush()
    return alert


async def escalation_for_reply(
    session: AsyncSession, channel: str, channel_user_id: str, provider_message_id: str
) -> int | None:
    """Which escalation a staff member's reply quotes: our message to them carried `esc:<id>:` in its key."""
    target = await reply_target(session, channel, channel_user_id, provider_message_id)
    return target[1] if target and target[0] == "esc" else None


async def reply_target(
    session: AsyncSession, channel: str, channel_user_id: str, provider_message_id: str
) -> tuple[str, int] | None:
    """("esc", id) or ("conv", id): what our message to this staff member was about, from its outbox key."""
    if not provider_message_id:
        return None
    row = (
        await session.execute(
            select(OutboxRow.idempotency_key)
            .where(
                OutboxRow.channel == channel,
                OutboxRow.channel_user_id == channel_user_id,
                OutboxRow.provider_message_id == provider_message_id,
            )
            .order_by(OutboxRow.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None or not row.startswith(("esc:", "conv:")):
        return None
    kind, _, rest = row.partition(":")
    try:
        return kind, int(rest.split(":")[0])
    except ValueError:
        return None


async def alert_for_outbox(session: AsyncSession, outbox_id: int) -> Alert | None:
    return (await session.execute(select(Alert).where(Alert.outbox_id == outbox_id))).scalar_one_or_none()


async def alert_deliveries(session: AsyncSession, esc_id: int) -> list[tuple[Alert, OutboxRow]]:
    """Each alert with its outbox row (for the provider message id to edit after an ack)."""
    rows = await session.execute(
        select(Alert, OutboxRow)
        .join(OutboxRow, OutboxRow.id == Alert.outbox_id)
        .where(Alert.escalation_id == esc_id)
        .order_by(Alert.id)
    )
    return [(a, o) for a, o in rows]


async def recent_inbound_texts(session: AsyncSession, conversation_id: int, limit: int = 3) -> list[str]:
    rows = await session.execute(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def recent_messages(session: AsyncSession, conversation_id: int, limit: int = 5) -> list[Message]:
    rows = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows.scalars())))


async def open_claims(session: AsyncSession, limit: int = 20) -> list[Claim]:
    rows = await session.execute(
        select(Claim).where(Claim.closed_at.is_(None)).order_by(Claim.id.desc()).limit(limit)
    )
    return list(rows.scalars())


async def claim_number(session: AsyncSession, claim_id: int | None) -> str | None:
    if claim_id is None:
        return None
    return (await session.execute(select(Claim.number).where(Claim.id == claim_id))).scalar_one_or_none()


async def stats(session: AsyncSession) -> dict[str, Any]:
    """Per policy: counts, mean seconds to acknowledge and to resolve, escalations by level reached."""
    out: dict[str, Any] = {}
    rows = await session.execute(
        select(Escalation.policy, Escalation.state, Escalation.level, func.count()).group_by(
            Escalation.policy, Escalation.state, Escalation.level
        )
    )
    for policy, state, level, n in rows:
        entry = out.setdefault(policy, {"count": 0, "by_state": {}, "by_level_reached": {}})
        entry["count"] += int(n)
        entry["by_state"][state] = entry["by_state"].get(state, 0) + int(n)
        entry["by_level_reached"][str(level)] = entry["by_level_reached"].get(str(level), 0) + int(n)
    timing = await session.execute(
        select(
            Escalation.policy, Escalation.opened_at, Escalation.acknowledged_at, Escalation.resolved_at
        ).where(or_(Escalation.acknowledged_at.is_not(None), and_(Escalation.resolved_at.is_not(None))))
    )
    sums: dict[str, dict[str, list[float]]] = {}
    for policy, opened, acked, resolved in timing:
        s = sums.setdefault(policy, {"ack": [], "resolve": []})
        if acked:
            s["ack"].append((acked - opened).total_seconds())
        if resolved:
            s["resolve"].append((resolved - opened).total_seconds())
    for policy, s in sums.items():
        entry = out.setdefault(policy, {"count": 0, "by_state": {}, "by_level_reached": {}})
        entry["mean_seconds_to_ack"] = round(sum(s["ack"]) / len(s["ack"]), 3) if s["ack"] else None
        entry["mean_seconds_to_resolve"] = (
            round(sum(s["resolve"]) / len(s["resolve"]), 3) if s["resolve"] else None
        )
    return out


def escalation_json(esc: Escalation) -> dict[str, Any]:
    return {
        "id": escalation_number(esc.id),
        "reason": esc.reason,
        "priority": esc.priority,
        "policy": esc.policy,
        "state": esc.state,
        "level": esc.level,
        "round": esc.round,
        "conversation": esc.conversation_id,
        "claim": esc.claim_id,
        "note": esc.note,
        "opened_at": esc.opened_at.isoformat(),
        "next_due_at": esc.next_due_at.isoformat() if esc.next_due_at else None,
        "acknowledged_by": esc.acknowledged_by,
        "acknowledged_at": esc.acknowledged_at.isoformat() if esc.acknowledged_at else None,
        "resolved_by": esc.resolved_by,
        "resolved_at": esc.resolved_at.isoformat() if esc.resolved_at else None,
        "final_alert_sent": esc.final_alert_sent,
        "alerts": [
            {
                "staff": a.staff_key,
                "channel": a.channel,
                "at": a.at.isoformat(),
                "level": a.level,
                "round": a.round,
            }
            for a in esc.alerts
        ],
    }


async def add_override(
    session: AsyncSession, rotation: str, staff_key: str, start: datetime, end: datetime, by: str
) -> RotaOverride:
    row = RotaOverride(rotation=rotation, staff_key=staff_key, start=start, end=end, by=by)
    session.add(row)
    await session.flush()
    return row


async def current_overrides(session: AsyncSession, now: datetime) -> list[RotaOverride]:
    """Overrides that have not ended yet, oldest first (a later swap wins over an earlier one)."""
    rows = await session.execute(select(RotaOverride).where(RotaOverride.end > now).order_by(RotaOverride.id))
    return list(rows.scalars())
