"""The claim state machine's map: each staff action, the states it may start from and where it leads.

submitted → qc_review → qc_confirmed | qc_rejected → responsibility_confirmed → resolved → closed,
plus needs_info (staff ask the client; the client's next photos send it back to review).
Applying an action (checks, events, notices) is workflow.py's.
"""

from __future__ import annotations

from bot.i18n import N_
from bot.ids import claim_sequence
from bot.states import ClaimState
from storage.models import Claim

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
