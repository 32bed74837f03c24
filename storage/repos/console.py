"""What the staff console reads and the few things it writes.

Claims and escalations are read straight from their tables here, read-only, so the
console does not wait on (or fight with) the claims and escalation services. Acknowledging
an escalation is the escalation service's (it stops the climb, assigns the conversation,
counts the metric and edits the pages), so there is no escalation write here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.messages import Channel, OutboundMessage
from bot.states import EscalationState
from storage.models import (
    Claim,
    Client,
    Contact,
    Escalation,
    Message,
    Staff,
    utcnow,
)
from storage.repos import audit, console_sessions, conversations, outbox

LOGIN_FAILED = "console_login_failed"


def login_target(staff_key: str) -> str:
    return f"console-login:{staff_key[:64]}"


async def set_password_hash(
    session: AsyncSession, staff_key: str, password_hash: str, actor: str, *, demo: bool = False
) -> bool:
    row = (await session.execute(select(Staff).where(Staff.key == staff_key))).scalar_one_or_none()
    if row is None:
        return False
    row.password_hash = password_hash
    row.demo_password = demo
    # A new password ends every open session of this person (a stolen cookie included).
    await console_sessions.delete_for_staff(session, staff_key)
    await audit.record(session, actor, "staff_password_set", f"staff:{staff_key}")
    return True


async def rehash_password(session: AsyncSession, staff_key: str, old_hash: str, new_hash: str) -> bool:
    """Swap in a stronger hash of the same password, unless someone changed it meanwhile."""
    result = await session.execute(
        update(Staff)
        .where(Staff.key == staff_key, Staff.password_hash == old_hash)
        .values(password_hash=new_hash)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await audit.record(session, f"staff:{staff_key}", "staff_password_rehashed", f"staff:{staff_key}")
    return True


# ---- claims (read-only) -----------------------------------------------------------------------------


@dataclass
class ClaimRow:
    claim: Claim
    client_key: str | None


async def list_claims(session: AsyncSession, *, limit: int = 100) -> list[ClaimRow]:
    rows = await session.execute(
        select(Claim, Client.key)
        .outerjoin(Client, Client.id == Claim.client_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(limit)
    )
    return [ClaimRow(c, k) for c, k in rows]


async def get_claim(session: AsyncSession, ref: str) -> ClaimRow | None:
    """By number (`CLM-2026-000017`) or row id."""
    query = select(Claim, Client.key).outerjoin(Client, Client.id == Claim.client_id)
    query = query.options(selectinload(Claim.events), selectinload(Claim.evidence))
    if ref.isdigit():
        query = query.where(Claim.id == int(ref))
    else:
        query = query.where(Claim.number == ref.upper())
    found = (await session.execute(query)).first()
    return ClaimRow(found[0], found[1]) if found else None


async def claims_for_conversation(session: AsyncSession, conversation_id: int) -> list[Claim]:
    return list(
        (
            await session.execute(
                select(Claim).where(Claim.conversation_id == conversation_id).order_by(Claim.id.desc())
            )
        ).scalars()
    )


# ---- escalations --------------------------------------------------------------------------------------


async def list_escalations(session: AsyncSession, *, limit: int = 100) -> list[Escalation]:
    """Open first, then acknowledged, then resolved; newest first within each."""
    order = case(
        (Escalation.state == EscalationState.OPEN, 0),
        (Escalation.state == EscalationState.ACKNOWLEDGED, 1),
        else_=2,
    )
    return list(
        (
            await session.execute(
                select(Escalation)
                .order_by(order, Escalation.opened_at.desc(), Escalation.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


# ---- staff reply ------------------------------------------------------------------------------------


async def staff_reply(
    session: AsyncSession, conversation_id: int, staff_key: str, text: str, nonce: str
) -> tuple[outbox.Queued, bool] | None:
    """Queue the staff member's text to the client on the client's own channel, in one transaction.

    The idempotency key comes from the form's nonce, so a double-submitted form finds the
    row it already made (returned with False) instead of sending twice. Returns None if
    there is no such conversation.
    """
    conv = await conversations.get_conversation(session, conversation_id)
    if conv is None:
        return None
    key = f"console:{conversation_id}:{nonce}"
    existing = await outbox.queued_by_key(session, key)
    if existing is not None:
        return existing, False
    contact: Contact = conv.contact
    out = OutboundMessage(
        channel=Channel(contact.channel),
        channel_user_id=contact.channel_user_id,
        text=text,
        idempotency_key=key,
    )
    row = await outbox.enqueue(session, out, conversation_id=conv.id, kind="reply")
    now = utcnow()
    conversations.hand_to_staff(conv, staff_key, now)
    conversations.touch(conv, now)
    await audit.record(
        session,
        f"staff:{staff_key}",
        "console_reply",
        f"conversation:{conv.id}",
        outbox_id=row.id,
        channel=contact.channel,
    )
    return row, True


async def last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, Message]:
    """The newest message of each conversation, for the list's one-line preview."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    rows = (await session.execute(select(Message).where(Message.id.in_(newest)))).scalars()
    return {m.conversation_id: m for m in rows if m.conversation_id is not None}
