"""The named states and dialogs every layer talks about, each spelled once.

They are `StrEnum`s: a member *is* its string, so the database keeps plain String columns,
the JSON API and the dialog state keep the same values, and a row read back as a bare
string compares equal to the member. A typo is now a NameError at import, not a state
nobody ever reaches. Shared kernel: imports nothing of the project.
"""

from __future__ import annotations

from enum import StrEnum


class Dialog(StrEnum):
    """Names of the multi-turn dialogs (`ctx.start_dialog`); each is the name of the handler that owns it."""

    CLAIM = "claim"  # handlers/claims/dialog.py: the client reporting a defect, then adding to it
    FEEDBACK = "feedback"  # handlers/orders/feedback.py: the 1–5 score after a claim closes
    MENU_CHOICE = "menu_choice"  # handlers/menu.py: a digit right after the menu picks an entry


class ConversationState(StrEnum):
    BOT = "bot"  # the bot answers
    WITH_STAFF = "with_staff"  # a person leads; the client's messages are relayed to them
    CLOSED = "closed"


class Priority(StrEnum):
    """Of a conversation and of an escalation."""

    NORMAL = "normal"
    URGENT = "urgent"


class ClaimState(StrEnum):
    """The claim state machine's states; the transitions are in handlers/claims/transitions.py."""

    SUBMITTED = "submitted"
    QC_REVIEW = "qc_review"
    QC_CONFIRMED = "qc_confirmed"
    QC_REJECTED = "qc_rejected"
    RESPONSIBILITY_CONFIRMED = "responsibility_confirmed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    NEEDS_INFO = "needs_info"


class EscalationState(StrEnum):
    OPEN = "open"  # paging climbs level by level until someone acknowledges
    ACKNOWLEDGED = "acknowledged"  # someone took it; no more pages
    RESOLVED = "resolved"
