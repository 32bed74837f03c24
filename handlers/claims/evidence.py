"""A claim's evidence: files joining it (capped, duplicates flagged) and the pages that tell QC staff.

Each QC member is paged on their preferred channel, in their language; a page lists the
claim, its files (at most MAX_PAGE_FILES attached, the rest by link) and the commands
that apply now (transitions.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import ENGLISH, Translator
from bot.messages import Attachment, AttachmentKind, Button, Channel, OutboundMessage
from bot.states import ClaimState
from handlers.claims import caps, checks, evidence_report, labels
from handlers.claims.phash import near_duplicate, phash_of
from handlers.claims.transitions import allowed_commands, short
from storage.models import AttachmentRow, Claim, ClaimEvidence, Client, Contact, utcnow
from storage.repos import audit, outbox
from storage.repos import claims as repo
from storage.repos import staff as staff_repo

MAX_PAGE_FILES = 10  # WhatsApp takes at most 10 media per message; the rest are listed by link


@dataclass
class EvidenceAdded:
    rows: list[AttachmentRow]
    duplicates: list[repo.Duplicate]
    refused: int = 0  # files left out because the claim already has caps.MAX_FILES
    order_found: str | None = None  # the client's order read on a carton label and linked now
    checked: checks.Checks | None = None  # the photos' quality and shots, when the rules were given


async def add_evidence(
    session: AsyncSession,
    claim: Claim,
    atts: list[AttachmentRow],
    *,
    by: str,
    now: datetime | None = None,
    rules: checks.EvidenceRules | None = None,
    caption: str = "",
) -> EvidenceAdded:
    """Attach files to the claim; one the same as (or nearly as) another claim's is flagged and recorded.

    With `rules`, each new photo is checked (quality, shot; `caption` may name the shot), each video
    its length, size and whether it plays.
    """
    now = now or utcnow()
    added: list[AttachmentRow] = []
    dups: list[repo.Duplicate] = []
    new: list[tuple[ClaimEvidence, AttachmentRow]] = []
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
        new.append((row, att))
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
    checked = await checks.check(session, claim, new, rules, caption) if rules and new else None
    return EvidenceAdded(added, dups, refused, order_found, checked)


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


def _staff_buttons(claim: Claim, tr: Translator) -> list[Button]:
    """One-tap commands for the next step; the text lists the commands too (`buttons_optional`)."""
    if claim.state not in {ClaimState.SUBMITTED, ClaimState.QC_REVIEW}:
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
        body = _page_text(claim, tr, headline, files, duplicates, client, contact, brief=brief)
        out = OutboundMessage(
            channel=Channel(channel),
            channel_user_id=user_id,
            text="\n".join(body),
            attachments=_files(listed),
            buttons=_staff_buttons(claim, tr),
            buttons_optional=True,
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


def _page_text(
    claim: Claim,
    tr: Translator,
    headline: Headline,
    files: list[AttachmentRow],
    duplicates: list[repo.Duplicate],
    client: Client | None,
    contact: Contact | None,
    *,
    brief: bool,
) -> list[str]:
    """One QC member's page, line by line, in their language; the first line is its subject."""
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
    body += evidence_report.qc_lines(claim, [f.id for f in files], tr)  # shots and their quality
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
    return body
