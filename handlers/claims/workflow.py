"""The claim state machine and everything a step causes: events, audit, the client's notice.

Shared by the staff chat commands and the JSON API, so both obey the same rules:
submitted → qc_review → qc_confirmed | qc_rejected → responsibility_confirmed → resolved → closed,
plus needs_info (staff ask the client; the client's next photos send it back to review).
Each step is a claim event and an audit entry, and the client hears about it on the
channel they used, in their language, through the outbox in the same transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import ENGLISH, N_, Translator
from bot.ids import claim_sequence
from bot.messages import Attachment, AttachmentKind, Button, Channel, OutboundMessage
from bot.states import ClaimState, Dialog
from handlers.claims import caps, labels
from handlers.claims.draft import ClaimDraft
from handlers.claims.notices import client_notice
from handlers.claims.phash import near_duplicate, phash_of
from handlers.claims.steps import Step
from storage.models import AttachmentRow, Claim, ClaimEvent, Conversation, utcnow
from storage.repos import audit, conversations, outbox
from storage.repos import claims as repo
from storage.repos import orders as order_repo
from storage.repos import staff as staff_repo

S = ClaimState
STATES = tuple(ClaimState)
# action → (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[frozenset[ClaimState], ClaimState]] = {
    "review": (frozenset({S.SUBMITTED, S.NEEDS_INFO}), S.QC_REVIEW),
    "qc_pass": (frozenset({S.SUBMITTED, S.QC_REVIEW}), S.QC_CONFIRMED),
    "qc_fail": (frozenset({S.SUBMITTED, S.QC_REVIEW}), S.QC_REJECTED),
    "resp": (frozenset({S.QC_CONFIRMED, S.QC_REJECTED}), S.RESPONSIBILITY_CONFIRMED),
    "replace": (frozenset({S.RESPONSIBILITY_CONFIRMED}), S.RESOLVED),
    "follow_up": (frozenset({S.RESPONSIBILITY_CONFIRMED}), S.RESOLVED),
    "reject": (frozenset({S.RESPONSIBILITY_CONFIRMED}), S.RESOLVED),
    "info": (frozenset({S.SUBMITTED, S.QC_REVIEW, S.QC_CONFIRMED, S.QC_REJECTED}), S.NEEDS_INFO),
    "close": (frozenset({S.RESOLVED}), S.CLOSED),
}
SYNTAX = {
    "review": "review",
    "qc_pass": "qc pass <note>",
    "qc_fail": "qc fail <note>",
    "resp": "resp factory|client|carrier",
    "replace": "replace <qty>",
    "follow_up": "follow_up <note>",
    "reject": "reject <reason>",
    "info": "info <question>",
    "close": "close",
}
RESPONSIBILITIES = ("factory", "client", "carrier")
MAX_PAGE_FILES = 10  # WhatsApp takes at most 10 media per message; the rest are listed by link
CLIENT_DIALOG = Dialog.CLAIM  # the client-side dialog (handlers/claims/dialog.py) a staff question reopens
INFO_TTL = timedelta(days=3)
FEEDBACK_DIALOG = Dialog.FEEDBACK  # handlers/orders/feedback.py records the 1–5 answer
FEEDBACK_TTL = timedelta(days=7)
NEEDS = {  # what an action that must say something lacks, as the staff member reads it
    "reject": N_("reject needs a reason"),
    "info": N_("info needs a question for the client"),
    "follow_up": N_("follow_up needs a note"),
}


def allowed_actions(state: str) -> list[str]:
    return [name for name, (sources, _to) in ACTIONS.items() if state in sources]


def short(claim: Claim) -> int:
    """The number staff type: 17 for CLM-2026-000017."""
    return claim_sequence(claim.number)


def allowed_commands(claim: Claim) -> list[str]:
    return [f"/claim {short(claim)} {SYNTAX[a]}" for a in allowed_actions(claim.state)]


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
    if action not in ACTIONS:
        return _refuse(
            claim,
            tr._(
                "unknown action {action}; one of: {actions}", action=repr(action), actions=", ".join(ACTIONS)
            ),
            "action",
        )
    sources, target = ACTIONS[action]
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
        )
    if action == "resp" and responsibility not in RESPONSIBILITIES:
        return _refuse(claim, tr._("responsibility must be factory, client or carrier"), "responsibility")
    if action in NEEDS and not note:
        return _refuse(claim, tr._(NEEDS[action]), "note")
    line = None
    if action == "replace":
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
            )
        if qty is None or qty < 1:
            return _refuse(claim, tr._("replace needs a quantity of at least 1"), "qty")
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
                )

    if action in {"qc_pass", "qc_fail"} and claim.state == ClaimState.SUBMITTED:
        # Recorded as its own step, told together with the verdict: two notices sent at once
        # could reach the client in either order.
        review = await repo.add_event(
            session, claim, by=by, to_state=ClaimState.QC_REVIEW, note="review started", now=now
        )
    else:
        review = None
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
    return Result(True, claim, msg, allowed_actions(claim.state))


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
    if out.channel == Channel.TELEGRAM:  # elsewhere buttons become numbered lines: the text asks already
        out.buttons = [Button("★" * i, f"feedback:{i}") for i in range(1, 6)]
    conv = await session.get(Conversation, claim.conversation_id) if claim.conversation_id else None
    if conv is not None:
        conversations.set_dialog(conv, FEEDBACK_DIALOG, {"claim_id": claim.id}, utcnow() + FEEDBACK_TTL)


# ---- evidence, duplicates and what QC staff are told ------------------------------------------------


@dataclass
class EvidenceAdded:
    rows: list[AttachmentRow]
    duplicates: list[repo.Duplicate]
    refused: int = 0  # files left out because the claim already has caps.MAX_FILES
    order_found: str | None = None  # the client's order read on a carton label and linked now


async def add_evidence(
    session: AsyncSession, claim: Claim, atts: list[AttachmentRow], *, by: str, now: datetime | None = None
) -> EvidenceAdded:
    """Attach files to the claim; one the same as (or nearly as) another claim's is flagged and recorded."""
    now = now or utcnow()
    added: list[AttachmentRow] = []
    dups: list[repo.Duplicate] = []
    room = caps.MAX_FILES - await repo.evidence_count(session, claim.id)
    refused = 0
    order_found = None
    for att in atts:
        if att.sha256 is None:
            continue
        if room <= 0:
            refused += 1
            continue
        if att.kind == "photo" and att.phash is None and att.stored_path:
            att.phash = await asyncio.to_thread(phash_of, att.stored_path)
        row = await repo.add_evidence(
            session, claim, sha256=att.sha256, mime=att.mime, attachment_id=att.id, phash=att.phash, now=now
        )
        if row is None:
            continue
        order_found = await labels.keep_reading(session, claim, row, att, now=now) or order_found
        room -= 1
        added.append(att)
        found = await repo.evidence_elsewhere(session, claim.id, att.sha256, att.phash, near_duplicate)
        for dup in found:
            kind = "same file" if dup.distance == 0 else f"nearly the same photo ({dup.distance} bits differ)"
            await repo.add_event(
                session,
                claim,
                by="bot",
                to_state=claim.state,
                note=f"same photo as {dup.claim_number}: {kind}",
                now=now,
                action="claim_duplicate_evidence",
                other_claim=dup.claim_number,
                sha256=att.sha256,
                distance=dup.distance,
            )
        dups += [d for d in found if d.claim_number not in {x.claim_number for x in dups}]
    return EvidenceAdded(added, dups, refused, order_found)


def _files(atts: list[AttachmentRow]) -> list[Attachment]:
    return [
        Attachment(
            kind=AttachmentKind.PHOTO if a.kind == "photo" else AttachmentKind.VIDEO,
            mime=a.mime,
            filename=a.filename,
            size=a.size,
            sha256=a.sha256,
            stored_path=a.stored_path,
        )
        for a in atts
    ]


def staff_summary(
    claim: Claim,
    *,
    client_name: str | None,
    channel: str | None,
    evidence_count: int,
    tr: Translator = ENGLISH,
) -> str:
    yes_no = {True: tr._("yes"), False: tr._("NO (used)"), None: tr._("not stated")}
    client = client_name or tr._("unverified contact")
    order = claim.order_number or "?"
    if claim.order_number and not claim.order_id:
        order += " " + tr._("(not found)")
    lines = [
        f"{claim.number} · {claim.state}",
        tr._("Client: {client} via {channel}", client=client, channel=channel)
        if channel
        else tr._("Client: {client}", client=client),
        tr._(
            "Order: {order} · SKU: {sku} · Qty affected: {qty} · Unused: {unused}",
            order=order,
            sku=claim.sku or "?",
            qty=claim.quantity_affected or "?",
            unused=yes_no[claim.unused],
        ),
        tr._("Eligibility: {eligibility}", eligibility=claim.eligibility)
        + ("" if claim.eligibility == "eligible" else " — " + tr._("staff review")),
        tr._("Problem: {problem}", problem=claim.description or "?"),
        tr.ngettext("Evidence: {n} file", "Evidence: {n} files", evidence_count),
    ]
    if claim.responsibility or claim.resolution:
        lines.append(
            tr._(
                "Responsibility: {responsibility} · Resolution: {resolution}",
                responsibility=claim.responsibility or "-",
                resolution=claim.resolution or "-",
            )
        )
    return "\n".join(lines)


def _staff_buttons(claim: Claim, channel: str, tr: Translator) -> list[Button]:
    """One-tap commands where the channel has real buttons; elsewhere the text lists the commands."""
    if channel != "telegram" or claim.state not in {ClaimState.SUBMITTED, ClaimState.QC_REVIEW}:
        return []
    return [
        Button(tr._("QC pass"), f"/claim {short(claim)} qc pass"),
        Button(tr._("Summary"), f"/claim {short(claim)}"),
    ]


Headline = Callable[[Translator], str]  # a page's first line, written in each recipient's language


async def notify_qc(
    session: AsyncSession,
    claim: Claim,
    *,
    headline: Headline,
    files: list[AttachmentRow],
    duplicates: list[repo.Duplicate],
    tag: str,
    cause_message_id: int | None = None,
    brief: bool = False,
) -> int:
    """Page every QC staff member on their preferred channel, in their language; returns how many were paged.

    `brief` pages (more photos for a claim they already have) skip the full summary: an
    album of five must not bury the phone under five copies of it.
    """
    client = None if brief else await repo.client_of(session, claim)
    contact = None if brief else await repo.contact_of(session, claim)
    listed = files[:MAX_PAGE_FILES]
    paged = 0
    for member in await staff_repo.with_role(session, "qc"):
        target = staff_repo.preferred_contact(member)
        if target is None:
            continue
        channel, user_id = target
        tr = Translator.for_language(member.language)
        body = [headline(tr)]
        if brief:
            body.append(
                f"{claim.number} · {claim.state} · "
                + tr.ngettext("{n} file in total", "{n} files in total", len(claim.evidence))
            )
        else:
            body.append(
                staff_summary(
                    claim,
                    client_name=f"{client.name} ({client.key})" if client else None,
                    channel=contact.channel if contact else None,
                    evidence_count=len(claim.evidence),
                    tr=tr,
                )
            )
        if len(files) > MAX_PAGE_FILES:
            body.append(
                tr.ngettext(
                    "{n} more file: GET /api/claims/{claim}",
                    "{n} more files: GET /api/claims/{claim}",
                    len(files) - MAX_PAGE_FILES,
                    claim=claim.number,
                )
            )
        for dup in duplicates:
            how = (
                tr._("identical file")
                if dup.distance == 0
                else tr._("near-duplicate, {bits} bits differ", bits=dup.distance)
            )
            body.append(
                tr._(
                    "⚠ Same photo as {claim} ({how}): possibly reused evidence.",
                    claim=dup.claim_number,
                    how=how,
                )
            )
        body.append(tr._("Act: {commands}", commands=" | ".join(allowed_commands(claim))))
        out = OutboundMessage(
            channel=Channel(channel),
            channel_user_id=user_id,
            text="\n".join(body),
            attachments=_files(listed),
            buttons=_staff_buttons(claim, channel, tr),
            idempotency_key=f"claim:{claim.id}:qc:{tag}:{member.key}",
            extra={"subject": body[0], "tag": claim.number},
        )
        await outbox.enqueue(session, out, cause_message_id=cause_message_id, kind="alert")
        paged += 1
    if not paged:
        await audit.record(
            session, "bot", "claim_unrouted", claim.number, reason="no QC staff with a contact"
        )
    else:
        await audit.record(session, "bot", "claim_qc_notified", claim.number, staff=paged, tag=tag)
    return paged
