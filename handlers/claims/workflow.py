"""Applying a staff action to a claim: the checks, the claim event and audit entry, the client's notice.

Shared by the staff chat commands and the JSON API, so both obey the same rules (the map of
actions and states is transitions.py). Each step is a claim event and an audit entry, and
the client hears about it on the channel they used, in their language, through the outbox
in the same transaction (worded in notices.py); evidence and QC pages are evidence.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import ENGLISH, Translator
from bot.messages import Button, Channel, OutboundMessage
from bot.states import ClaimState, Dialog
from handlers.claims.draft import ClaimDraft
from handlers.claims.evidence import EvidenceAdded as EvidenceAdded
from handlers.claims.evidence import add_evidence as add_evidence
from handlers.claims.evidence import notify_qc as notify_qc
from handlers.claims.evidence import staff_summary as staff_summary
from handlers.claims.notices import client_notice
from handlers.claims.steps import Step
from handlers.claims.transitions import ACTIONS as ACTIONS
from handlers.claims.transitions import NEEDS, SYNTAX, allowed_actions
from handlers.claims.transitions import RESPONSIBILITIES as RESPONSIBILITIES
from handlers.claims.transitions import STATES as STATES
from handlers.claims.transitions import allowed_commands as allowed_commands
from handlers.claims.transitions import short as short
from storage.models import Claim, ClaimEvent, Conversation, OrderLine, utcnow
from storage.repos import audit, conversations, outbox
from storage.repos import claims as repo
from storage.repos import orders as order_repo

CLIENT_DIALOG = Dialog.CLAIM  # the client-side dialog (handlers/claims/dialog.py) a staff question reopens
INFO_TTL = timedelta(days=3)
FEEDBACK_DIALOG = Dialog.FEEDBACK  # handlers/orders/feedback.py records the 1–5 answer
FEEDBACK_TTL = timedelta(days=7)


@dataclass
class Result:
    ok: bool
    claim: Claim
    message: str  # for the staff member who acted
    allowed: list[str] = field(default_factory=list)
    field: str | None = None


def _refuse(claim: Claim, message: str, field_name: str | None = None) -> Result:
    return Result(False, claim, message, allowed_actions(claim.state), field_name)


async def transition(
    session: AsyncSession,
    claim: Claim,
    action: str,
    *,
    by: str,
    note: str = "",
    qty: int | None = None,
    responsibility: str | None = None,
    now: datetime | None = None,
    cause_message_id: int | None = None,
    tr: Translator = ENGLISH,
) -> Result:
    """Apply one staff action, or refuse it naming what is allowed; nothing is written on refusal.

    `tr` is the acting staff member's language, for `Result.message` only: what the client
    is told is in the claim's language.
    """
    now = now or utcnow()
    note = (note or "").strip()
    refusal, line = await _check(
        session, claim, action, note=note, qty=qty, responsibility=responsibility, tr=tr
    )
    if refusal is not None:
        return refusal
    _sources, target = ACTIONS[action]

    if action in {"qc_pass", "qc_fail"} and claim.state == ClaimState.SUBMITTED:
        # Recorded as its own step, told together with the verdict: two notices sent at once
        # could reach the client in either order.
        review = await repo.add_event(
            session, claim, by=by, to_state=ClaimState.QC_REVIEW, note="review started", now=now
        )
    else:
        review = None
    note, extra = await _apply(
        session, claim, action, note=note, qty=qty, responsibility=responsibility, line=line, now=now
    )
    await _step(
        session, claim, target, by=by, note=note, now=now, cause=cause_message_id, also=review, **extra
    )
    if target == ClaimState.NEEDS_INFO and claim.conversation_id:
        # The client's next message answers the question: photos go to this claim and back to review.
        conv = await session.get(Conversation, claim.conversation_id)
        if conv is not None:
            conversations.set_dialog(
                conv, CLIENT_DIALOG, ClaimDraft(step=Step.INFO, claim=claim.number).to_json(), now + INFO_TTL
            )
    msg = _done_message(claim, action, target, note, qty, line, extra, tr)
    return Result(True, claim, msg, allowed_actions(claim.state))


def _done_message(
    claim: Claim,
    action: str,
    target: str,
    note: str,
    qty: int | None,
    line: OrderLine | None,
    extra: dict[str, object],
    tr: Translator,
) -> str:
    """What the staff member who acted reads back."""
    msg = (
        tr._("{claim}: {state} ({note}). Client notified.", claim=claim.number, state=target, note=note)
        if note
        else tr._("{claim}: {state}. Client notified.", claim=claim.number, state=target)
    )
    if action == "replace":
        booked = (
            tr._(
                "Booked on the order line: {qty} replaced, {spares} from spare units.",
                qty=qty,
                spares=extra["spares_used"],
            )
            if line is not None
            else tr._("No order line is known: nothing booked against an order.")
        )
        msg += " " + booked
    return msg


async def _check(
    session: AsyncSession,
    claim: Claim,
    action: str,
    *,
    note: str,
    qty: int | None,
    responsibility: str | None,
    tr: Translator,
) -> tuple[Result | None, OrderLine | None]:
    """The refusal, if the action may not happen now (and the order line a replacement books on)."""
    if action not in ACTIONS:
        return _refuse(
            claim,
            tr._(
                "unknown action {action}; one of: {actions}", action=repr(action), actions=", ".join(ACTIONS)
            ),
            "action",
        ), None
    sources, _target = ACTIONS[action]
    if claim.state not in sources:
        allowed = allowed_actions(claim.state)
        return _refuse(
            claim,
            tr._(
                "{claim} is {state}: cannot {action}. Allowed now: {allowed}",
                claim=claim.number,
                state=claim.state,
                action=action,
                allowed=", ".join(SYNTAX[a] for a in allowed) or tr._("nothing (the claim is closed)"),
            ),
            "action",
        ), None
    if action == "resp" and responsibility not in RESPONSIBILITIES:
        return _refuse(
            claim, tr._("responsibility must be factory, client or carrier"), "responsibility"
        ), None
    if action in NEEDS and not note:
        return _refuse(claim, tr._(NEEDS[action]), "note"), None
    if action == "replace":
        return await _check_replace(session, claim, qty, tr)
    return None, None


async def _check_replace(
    session: AsyncSession, claim: Claim, qty: int | None, tr: Translator
) -> tuple[Result | None, OrderLine | None]:
    """A replacement: factory responsibility, a quantity, and no more than the order line has left."""
    line = None
    if claim.responsibility != "factory":
        return _refuse(
            claim,
            tr._(
                "a replacement is for defects of factory responsibility; {claim} is "
                "{responsibility}: use follow_up or reject",
                claim=claim.number,
                responsibility=claim.responsibility or tr._("unassigned"),
            ),
            "action",
        ), None
    if qty is None or qty < 1:
        return _refuse(claim, tr._("replace needs a quantity of at least 1"), "qty"), None
    if claim.order_line_id is not None:
        order = await order_repo.by_id(session, claim.order_id) if claim.order_id else None
        line = next((ln for ln in (order.lines if order else []) if ln.id == claim.order_line_id), None)
        if line is not None and qty > line.quantity - (line.replaced_qty or 0):
            return _refuse(
                claim,
                tr._(
                    "{qty} is more than the line's {quantity} pcs less {replaced} already replaced",
                    qty=qty,
                    quantity=line.quantity,
                    replaced=line.replaced_qty or 0,
                ),
                "qty",
            ), None
    return None, line


async def _apply(
    session: AsyncSession,
    claim: Claim,
    action: str,
    *,
    note: str,
    qty: int | None,
    responsibility: str | None,
    line: OrderLine | None,
    now: datetime,
) -> tuple[str, dict[str, object]]:
    """What the action changes on the claim (and its order line); the note and details its event gets."""
    extra: dict[str, object] = {}
    if action == "resp":
        claim.responsibility = responsibility
        note = note or responsibility or ""
    elif action == "replace":
        claim.resolution = "replacement"
        claim.replacement_qty = qty
        if line is not None and qty is not None:
            _line, used = await repo.book_replacement(session, line.id, qty)
            claim.spares_used = (claim.spares_used or 0) + used
            extra = {"qty": qty, "spares_used": used, "order_line": line.id}
        else:
            extra = {"qty": qty, "spares_used": 0, "order_line": None}
        note = note or f"replacement {qty} pcs"
    elif action == "follow_up":
        claim.resolution = "follow_up"
    elif action == "reject":
        claim.resolution = "rejected"
    elif action == "close":
        claim.closed_at = now
    return note, extra


async def _step(
    session: AsyncSession,
    claim: Claim,
    to_state: str,
    *,
    by: str,
    note: str,
    now: datetime,
    cause: int | None,
    also: ClaimEvent | None = None,
    **details: Any,
) -> ClaimEvent:
    event = await repo.add_event(
        session, claim, by=by, to_state=to_state, note=note or None, now=now, **details
    )
    await notify_client(session, claim, event, cause_message_id=cause, earlier=also)
    return event


# ---- telling the client -----------------------------------------------------------------------------


async def notify_client(
    session: AsyncSession,
    claim: Claim,
    event: ClaimEvent,
    *,
    cause_message_id: int | None = None,
    earlier: ClaimEvent | None = None,
) -> None:
    """The claim's own contact, on its channel, in the claim's language; never anyone else."""
    if event.from_state == event.to_state:
        return
    contact = await repo.contact_of(session, claim)
    if contact is None:
        await audit.record(session, "bot", "claim_notice_undeliverable", claim.number, event=event.id)
        return
    out = OutboundMessage(
        channel=Channel(contact.channel),
        channel_user_id=contact.channel_user_id,
        text=(client_notice(claim, earlier) + "\n" if earlier else "") + client_notice(claim, event),
        idempotency_key=f"claim:{claim.id}:event:{event.id}",
        extra={"tag": claim.number},  # email: the thread goes on, its subject tagged [CLM-…]
    )
    if event.to_state == ClaimState.CLOSED:
        await _ask_feedback(session, claim, out)
    await outbox.enqueue(
        session, out, conversation_id=claim.conversation_id, cause_message_id=cause_message_id, kind="notice"
    )


async def _ask_feedback(session: AsyncSession, claim: Claim, out: OutboundMessage) -> None:
    """The closing notice asks for a 1–5 score; the client's answer is the feedback dialog's (orders side).

    Contract (handlers/feedback.py): open dialog "feedback" with {"claim_id": …} on the
    client's conversation in the transaction that closes the claim.
    """
    out.buttons = [Button("★" * i, f"feedback:{i}") for i in range(1, 6)]
    out.buttons_optional = True  # the text asks for 1–5 already: no numbered lines where buttons are not
    conv = await session.get(Conversation, claim.conversation_id) if claim.conversation_id else None
    if conv is not None:
        conversations.set_dialog(conv, FEEDBACK_DIALOG, {"claim_id": claim.id}, utcnow() + FEEDBACK_TTL)
