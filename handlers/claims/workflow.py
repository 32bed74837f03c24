"""The claim state machine and everything a step causes: events, audit, the client's notice.

Shared by the staff chat commands and the JSON API, so both obey the same rules:
submitted → qc_review → qc_confirmed | qc_rejected → responsibility_confirmed → resolved → closed,
plus needs_info (staff ask the client; the client's next photos send it back to review).
Each step is a claim event and an audit entry, and the client hears about it on the
channel they used, in their language, through the outbox in the same transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Attachment, AttachmentKind, Button, Channel, OutboundMessage
from handlers.base import t
from handlers.claims import caps
from handlers.claims.phash import near_duplicate, phash_of
from storage.models import AttachmentRow, Claim, ClaimEvent, Conversation, utcnow
from storage.repos import audit, conversations, outbox
from storage.repos import claims as repo
from storage.repos import staff as staff_repo

STATES = (
    "submitted",
    "qc_review",
    "qc_confirmed",
    "qc_rejected",
    "responsibility_confirmed",
    "resolved",
    "closed",
    "needs_info",
)
# action → (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "review": (frozenset({"submitted", "needs_info"}), "qc_review"),
    "qc_pass": (frozenset({"submitted", "qc_review"}), "qc_confirmed"),
    "qc_fail": (frozenset({"submitted", "qc_review"}), "qc_rejected"),
    "resp": (frozenset({"qc_confirmed", "qc_rejected"}), "responsibility_confirmed"),
    "replace": (frozenset({"responsibility_confirmed"}), "resolved"),
    "follow_up": (frozenset({"responsibility_confirmed"}), "resolved"),
    "reject": (frozenset({"responsibility_confirmed"}), "resolved"),
    "info": (frozenset({"submitted", "qc_review", "qc_confirmed", "qc_rejected"}), "needs_info"),
    "close": (frozenset({"resolved"}), "closed"),
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
CLIENT_DIALOG = "claim"  # the client-side dialog (handlers/claims.py) a staff question reopens
INFO_TTL = timedelta(days=3)
FEEDBACK_DIALOG = "feedback"  # handlers/feedback.py (orders side) records the 1–5 answer
FEEDBACK_TTL = timedelta(days=7)
STATE_LABELS = {
    "submitted": ("submitted, waiting for QC", "已提交，等待质检"),
    "qc_review": ("under QC review", "质检审核中"),
    "qc_confirmed": ("defect confirmed by QC", "质检已确认缺陷"),
    "qc_rejected": ("defect not confirmed by QC", "质检未确认缺陷"),
    "responsibility_confirmed": ("responsibility confirmed", "责任已确认"),
    "resolved": ("resolved", "已处理"),
    "closed": ("closed", "已结案"),
    "needs_info": ("waiting for more information from you", "等待您补充信息"),
}


def allowed_actions(state: str) -> list[str]:
    return [name for name, (sources, _to) in ACTIONS.items() if state in sources]


def short(claim: Claim) -> int:
    """The number staff type: 17 for CLM-2026-000017."""
    return int(claim.number.rsplit("-", 1)[1])


def allowed_commands(claim: Claim) -> list[str]:
    return [f"/claim {short(claim)} {SYNTAX[a]}" for a in allowed_actions(claim.state)]


def state_label(state: str, lang: str) -> str:
    en, zh = STATE_LABELS.get(state, (state, state))
    return t(lang, en, zh)


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
) -> Result:
    """Apply one staff action, or refuse it naming what is allowed; nothing is written on refusal."""
    now = now or utcnow()
    note = (note or "").strip()
    if action not in ACTIONS:
        return _refuse(claim, f"unknown action {action!r}; one of: {', '.join(ACTIONS)}", "action")
    sources, target = ACTIONS[action]
    if claim.state not in sources:
        allowed = allowed_actions(claim.state)
        return _refuse(
            claim,
            f"{claim.number} is {claim.state}: cannot {action}. Allowed now: "
            + (", ".join(SYNTAX[a] for a in allowed) or "nothing (the claim is closed)"),
            "action",
        )
    if action == "resp" and responsibility not in RESPONSIBILITIES:
        return _refuse(claim, "responsibility must be factory, client or carrier", "responsibility")
    if action in {"reject", "info", "follow_up"} and not note:
        what = {"reject": "a reason", "info": "a question for the client", "follow_up": "a note"}[action]
        return _refuse(claim, f"{action} needs {what}", "note")
    line = None
    if action == "replace":
        if claim.responsibility != "factory":
            return _refuse(
                claim,
                f"a replacement is for defects of factory responsibility; {claim.number} is "
                f"{claim.responsibility or 'unassigned'}: use follow_up or reject",
                "action",
            )
        if qty is None or qty < 1:
            return _refuse(claim, "replace needs a quantity of at least 1", "qty")
        if claim.order_line_id is not None:
            order = await repo.order_with_lines(session, claim.order_id) if claim.order_id else None
            line = next((ln for ln in (order.lines if order else []) if ln.id == claim.order_line_id), None)
            if line is not None and qty > line.quantity - (line.replaced_qty or 0):
                return _refuse(
                    claim,
                    f"{qty} is more than the line's {line.quantity} pcs less {line.replaced_qty or 0} "
                    "already replaced",
                    "qty",
                )

    if action in {"qc_pass", "qc_fail"} and claim.state == "submitted":
        # Recorded as its own step, told together with the verdict: two notices sent at once
        # could reach the client in either order.
        review = await repo.add_event(
            session, claim, by=by, to_state="qc_review", note="review started", now=now
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
    if target == "needs_info" and claim.conversation_id:
        # The client's next message answers the question: photos go to this claim and back to review.
        conv = await session.get(Conversation, claim.conversation_id)
        if conv is not None:
            conversations.set_dialog(
                conv, CLIENT_DIALOG, {"step": "info", "claim": claim.number}, now + INFO_TTL
            )
    msg = f"{claim.number}: {target}" + (f" ({note})" if note else "") + ". Client notified."
    if action == "replace":
        booked = (
            f" Booked on the order line: {qty} replaced, {extra['spares_used']} from spare units."
            if line is not None
            else " No order line is known: nothing booked against an order."
        )
        msg += booked
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


# ---- what the client is told ------------------------------------------------------------------------


def client_notice(claim: Claim, event: ClaimEvent) -> str:
    n, lang, note = claim.number, claim.language, (event.note or "").strip()
    state = event.to_state
    if state == "qc_review":
        if event.from_state == "needs_info":
            return t(
                lang,
                f"Thank you. We added your new evidence to claim {n}; "
                "it is back with our QC team for review.",
                f"谢谢！您补充的照片/视频已加入索赔 {n}，已重新交给质检团队审核。",
            )
        return t(
            lang,
            f"Update on your claim {n}: our QC team is now reviewing your photos and details.",
            f"您的索赔 {n} 进展：我们的质检团队正在审核您提供的照片和信息。",
        )
    if state == "qc_confirmed":
        return t(
            lang,
            f"Update on your claim {n}: our QC team confirmed the defect. "
            "Next we confirm responsibility, then arrange a replacement or follow-up solution.",
            f"您的索赔 {n} 进展：质检团队已确认该缺陷。接下来我们将确认责任，然后安排更换或后续解决方案。",
        )
    if state == "qc_rejected":
        return t(
            lang,
            f"Update on your claim {n}: our QC team could not confirm a manufacturing or material defect "
            f"from the evidence{': ' + note if note else ''}. We will confirm responsibility and tell you "
            "the outcome.",
            f"您的索赔 {n} 进展：根据现有证据，质检团队未能确认存在生产或材料缺陷"
            f"{'：' + note if note else ''}。"
            "我们将确认责任并告知您处理结果。",
        )
    if state == "responsibility_confirmed":
        who = claim.responsibility
        if who == "factory":
            return t(
                lang,
                f"Update on your claim {n}: we confirmed this is a manufacturing responsibility of our "
                "factory. "
                "We are now arranging a replacement or follow-up solution.",
                f"您的索赔 {n} 进展：经确认，该问题属于我方工厂的生产责任。我们正在安排更换或后续解决方案。",
            )
        if who == "carrier":
            return t(
                lang,
                f"Update on your claim {n}: the damage was caused in transport by the carrier, which our "
                "replacement policy does not cover. We will help with documents for a claim with the carrier "
                "and tell you our final decision shortly.",
                f"您的索赔 {n} 进展：经确认，损坏发生在承运商运输途中，不属于我们的更换政策范围。"
                "我们会协助提供向承运商索赔所需的单据，并尽快告知最终处理决定。",
            )
        return t(
            lang,
            f"Update on your claim {n}: our assessment is that the problem comes from use or handling after "
            "delivery, which our replacement policy does not cover. "
            "We will tell you our final decision shortly.",
            f"您的索赔 {n} 进展：经评估，该问题源于交货后的使用或搬运，不属于我们的更换政策范围。"
            "我们会尽快告知最终处理决定。",
        )
    if state == "resolved":
        if claim.resolution == "replacement":
            qty = claim.replacement_qty or 0
            item = f" of {claim.sku}" if claim.sku else ""
            order = f" (order {claim.order_number})" if claim.order_number else ""
            spares_en = (
                f" {claim.spares_used} of them are covered by the spare units of your order."
                if claim.spares_used
                else ""
            )
            spares_zh = f"其中 {claim.spares_used} 件由您订单的备品承担。" if claim.spares_used else ""
            return t(
                lang,
                f"Decision on your claim {n}: a replacement of {qty} pcs{item}{order} is approved."
                f"{spares_en} We will confirm the shipping details with you.",
                f"您的索赔 {n} 处理结果：已批准更换 {qty} 件"
                f"{(' ' + claim.sku) if claim.sku else ''}"
                f"{f'（订单 {claim.order_number}）' if claim.order_number else ''}。"
                f"{spares_zh}我们将与您确认发货细节。",
            )
        if claim.resolution == "follow_up":
            return t(
                lang,
                f"Decision on your claim {n}: we will follow up as follows: {note}",
                f"您的索赔 {n} 处理结果：我们将按以下方式跟进：{note}",
            )
        return t(
            lang,
            f"Decision on your claim {n}: we cannot offer a replacement. Reason: {note}. "
            "If you have more information, please reply here.",
            f"您的索赔 {n} 处理结果：很抱歉，我们无法提供更换。原因：{note}。如您有更多信息，请在此回复。",
        )
    if state == "needs_info":
        return t(
            lang,
            f"About your claim {n}, our QC team needs more information: {note}\n"
            "Please reply here with photos or a video (and any details).",
            f"关于您的索赔 {n}，质检团队需要补充信息：{note}\n请在此回复照片或视频（以及相关说明）。",
        )
    if state == "closed":
        return t(
            lang,
            f"Your claim {n} is now closed. Thank you for your patience and for helping us improve.\n"
            "How did we do? Reply with a score from 1 (poor) to 5 (excellent).",
            f"您的索赔 {n} 已结案。感谢您的耐心，也感谢您帮助我们改进产品。\n"
            "请为本次售后服务打分：回复 1（差）到 5（很好）。",
        )
    return t(
        lang,
        f"Update on your claim {n}: {state_label(state, 'en')}.",
        f"您的索赔 {n} 进展：{state_label(state, 'zh')}。",
    )


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
    if event.to_state == "closed":
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


def status_text(claim: Claim, lang: str) -> str:
    lines = [
        t(
            lang,
            f"Claim {claim.number}: {state_label(claim.state, lang)}.",
            f"索赔 {claim.number}：{state_label(claim.state, lang)}。",
        )
    ]
    if claim.order_number:
        lines.append(
            t(lang, f"Order {claim.order_number}", f"订单 {claim.order_number}")
            + (f" · {claim.sku}" if claim.sku else "")
        )
    lines.append(t(lang, "History:", "处理记录："))
    for ev in claim.events:
        if ev.from_state == ev.to_state:
            continue
        lines.append(f"- {ev.at:%Y-%m-%d %H:%M} UTC {state_label(ev.to_state, lang)}")
    return "\n".join(lines)


# ---- evidence, duplicates and what QC staff are told ------------------------------------------------


@dataclass
class EvidenceAdded:
    rows: list[AttachmentRow]
    duplicates: list[repo.Duplicate]
    refused: int = 0  # files left out because the claim already has caps.MAX_FILES


async def add_evidence(
    session: AsyncSession, claim: Claim, atts: list[AttachmentRow], *, by: str, now: datetime | None = None
) -> EvidenceAdded:
    """Attach files to the claim; one the same as (or nearly as) another claim's is flagged and recorded."""
    now = now or utcnow()
    added: list[AttachmentRow] = []
    dups: list[repo.Duplicate] = []
    room = caps.MAX_FILES - await repo.evidence_count(session, claim.id)
    refused = 0
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
    return EvidenceAdded(added, dups, refused)


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


def staff_summary(claim: Claim, *, client_name: str | None, channel: str | None, evidence_count: int) -> str:
    yes_no = {True: "yes", False: "NO (used)", None: "not stated"}
    lines = [
        f"{claim.number} · {claim.state}",
        f"Client: {client_name or 'unverified contact'}" + (f" via {channel}" if channel else ""),
        f"Order: {claim.order_number or '?'}"
        f"{'' if claim.order_id or not claim.order_number else ' (not found)'}"
        f" · SKU: {claim.sku or '?'} · Qty affected: {claim.quantity_affected or '?'}"
        f" · Unused: {yes_no[claim.unused]}",
        f"Eligibility: {claim.eligibility}" + ("" if claim.eligibility == "eligible" else " — staff review"),
        f"Problem: {claim.description or '?'}",
        f"Evidence: {evidence_count} file(s)",
    ]
    if claim.responsibility or claim.resolution:
        lines.append(f"Responsibility: {claim.responsibility or '-'} · Resolution: {claim.resolution or '-'}")
    return "\n".join(lines)


def _staff_buttons(claim: Claim, channel: str) -> list[Button]:
    """One-tap commands where the channel has real buttons; elsewhere the text lists the commands."""
    if channel != "telegram" or claim.state not in {"submitted", "qc_review"}:
        return []
    return [Button("QC pass", f"/claim {short(claim)} qc pass"), Button("Summary", f"/claim {short(claim)}")]


async def notify_qc(
    session: AsyncSession,
    claim: Claim,
    *,
    headline: str,
    files: list[AttachmentRow],
    duplicates: list[repo.Duplicate],
    tag: str,
    cause_message_id: int | None = None,
    extra_lines: list[str] | None = None,
    brief: bool = False,
) -> int:
    """Page every QC staff member on their preferred channel; returns how many were paged.

    `brief` pages (more photos for a claim they already have) skip the full summary: an
    album of five must not bury the phone under five copies of it.
    """
    body = [headline]
    if brief:
        body.append(f"{claim.number} · {claim.state} · {len(claim.evidence)} file(s) in total")
    else:
        client = await repo.client_of(session, claim)
        contact = await repo.contact_of(session, claim)
        body.append(
            staff_summary(
                claim,
                client_name=f"{client.name} ({client.key})" if client else None,
                channel=contact.channel if contact else None,
                evidence_count=len(claim.evidence),
            )
        )
    body += extra_lines or []
    if len(files) > MAX_PAGE_FILES:
        body.append(f"{len(files) - MAX_PAGE_FILES} more file(s): GET /api/claims/{claim.number}")
        files = files[:MAX_PAGE_FILES]
    for dup in duplicates:
        how = "identical file" if dup.distance == 0 else f"near-duplicate, {dup.distance} bits differ"
        body.append(f"⚠ Same photo as {dup.claim_number} ({how}): possibly reused evidence.")
    body.append("Act: " + " | ".join(allowed_commands(claim)))
    text = "\n".join(body)
    paged = 0
    for member in await staff_repo.with_role(session, "qc"):
        target = staff_repo.preferred_contact(member)
        if target is None:
            continue
        channel, user_id = target
        out = OutboundMessage(
            channel=Channel(channel),
            channel_user_id=user_id,
            text=text,
            attachments=_files(files),
            buttons=_staff_buttons(claim, channel),
            idempotency_key=f"claim:{claim.id}:qc:{tag}:{member.key}",
            extra={"subject": headline, "tag": claim.number},
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
