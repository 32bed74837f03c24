"""What a client reads about their claim: each step's notice and the status answer, in the claim's language.

The state machine (workflow.py) decides the step; this module only words it. A claim
keeps the language of the conversation it was opened in, so every notice about it is
in that language whoever acted.
"""

from __future__ import annotations

from bot.i18n import N_, Translator
from bot.states import ClaimState
from storage.models import Claim, ClaimEvent

STATE_LABELS: dict[str, str] = {
    ClaimState.SUBMITTED: N_("submitted, waiting for QC"),
    ClaimState.QC_REVIEW: N_("under QC review"),
    ClaimState.QC_CONFIRMED: N_("defect confirmed by QC"),
    ClaimState.QC_REJECTED: N_("defect not confirmed by QC"),
    ClaimState.RESPONSIBILITY_CONFIRMED: N_("responsibility confirmed"),
    ClaimState.RESOLVED: N_("resolved"),
    ClaimState.CLOSED: N_("closed"),
    ClaimState.NEEDS_INFO: N_("waiting for more information from you"),
}


def state_label(state: str, tr: Translator) -> str:
    label = STATE_LABELS.get(state)
    return tr._(label) if label else state


def client_notice(claim: Claim, event: ClaimEvent) -> str:
    tr, n, note = Translator.for_language(claim.language), claim.number, (event.note or "").strip()
    state = event.to_state
    if state == ClaimState.QC_REVIEW:
        if event.from_state == ClaimState.NEEDS_INFO:
            return tr._(
                "Thank you. We added your new evidence to claim {claim}; "
                "it is back with our QC team for review.",
                claim=n,
            )
        return tr._(
            "Update on your claim {claim}: our QC team is now reviewing your photos and details.", claim=n
        )
    if state == ClaimState.QC_CONFIRMED:
        return tr._(
            "Update on your claim {claim}: our QC team confirmed the defect. "
            "Next we confirm responsibility, then arrange a replacement or follow-up solution.",
            claim=n,
        )
    if state == ClaimState.QC_REJECTED:
        if note:
            return tr._(
                "Update on your claim {claim}: our QC team could not confirm a manufacturing or material "
                "defect from the evidence: {note}. We will confirm responsibility and tell you the outcome.",
                claim=n,
                note=note,
            )
        return tr._(
            "Update on your claim {claim}: our QC team could not confirm a manufacturing or material defect "
            "from the evidence. We will confirm responsibility and tell you the outcome.",
            claim=n,
        )
    if state == ClaimState.RESPONSIBILITY_CONFIRMED:
        return _responsibility_notice(tr, claim)
    if state == ClaimState.RESOLVED:
        return _decision_notice(tr, claim, note)
    if state == ClaimState.NEEDS_INFO:
        return tr._(
            "About your claim {claim}, our QC team needs more information: {note}\n"
            "Please reply here with photos or a video (and any details).",
            claim=n,
            note=note,
        )
    if state == ClaimState.CLOSED:
        return tr._(
            "Your claim {claim} is now closed. Thank you for your patience and for helping us improve.\n"
            "How did we do? Reply with a score from 1 (poor) to 5 (excellent).",
            claim=n,
        )
    return tr._("Update on your claim {claim}: {state}.", claim=n, state=state_label(state, tr))


def _responsibility_notice(tr: Translator, claim: Claim) -> str:
    n = claim.number
    if claim.responsibility == "factory":
        return tr._(
            "Update on your claim {claim}: we confirmed this is a manufacturing responsibility of our "
            "factory. We are now arranging a replacement or follow-up solution.",
            claim=n,
        )
    if claim.responsibility == "carrier":
        return tr._(
            "Update on your claim {claim}: the damage was caused in transport by the carrier, which our "
            "replacement policy does not cover. We will help with documents for a claim with the carrier "
            "and tell you our final decision shortly.",
            claim=n,
        )
    return tr._(
        "Update on your claim {claim}: our assessment is that the problem comes from use or handling after "
        "delivery, which our replacement policy does not cover. "
        "We will tell you our final decision shortly.",
        claim=n,
    )


def _decision_notice(tr: Translator, claim: Claim, note: str) -> str:
    n = claim.number
    if claim.resolution == "replacement":
        values = {"qty": claim.replacement_qty or 0, "sku": claim.sku, "order": claim.order_number}
        if claim.sku and claim.order_number:
            what = tr._("{qty} pcs of {sku} (order {order})", **values)
        elif claim.sku:
            what = tr._("{qty} pcs of {sku}", **values)
        elif claim.order_number:
            what = tr._("{qty} pcs (order {order})", **values)
        else:
            what = tr._("{qty} pcs", **values)
        if claim.spares_used:
            return tr.ngettext(
                "Decision on your claim {claim}: a replacement of {what} is approved. "
                "{n} of them is covered by the spare units of your order. "
                "We will confirm the shipping details with you.",
                "Decision on your claim {claim}: a replacement of {what} is approved. "
                "{n} of them are covered by the spare units of your order. "
                "We will confirm the shipping details with you.",
                claim.spares_used,
                claim=n,
                what=what,
            )
        return tr._(
            "Decision on your claim {claim}: a replacement of {what} is approved. "
            "We will confirm the shipping details with you.",
            claim=n,
            what=what,
        )
    if claim.resolution == "follow_up":
        return tr._(
            "Decision on your claim {claim}: we will follow up as follows: {note}", claim=n, note=note
        )
    return tr._(
        "Decision on your claim {claim}: we cannot offer a replacement. Reason: {note}. "
        "If you have more information, please reply here.",
        claim=n,
        note=note,
    )


def status_text(claim: Claim, tr: Translator) -> str:
    lines = [tr._("Claim {claim}: {state}.", claim=claim.number, state=state_label(claim.state, tr))]
    if claim.order_number:
        lines.append(
            tr._("Order {order}", order=claim.order_number) + (f" · {claim.sku}" if claim.sku else "")
        )
    lines.append(tr._("History:"))
    for ev in claim.events:
        if ev.from_state == ev.to_state:
            continue
        lines.append(f"- {ev.at:%Y-%m-%d %H:%M} UTC {state_label(ev.to_state, tr)}")
    return "\n".join(lines)
