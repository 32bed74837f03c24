"""The claim dialog's steps, and which step may follow which: the dialog's whole map in one place.

As in a ConversationHandler, the dialog is in exactly one step between two messages (kept in
the conversation's dialog state, see draft.py). While the report is collected the step is the
question last asked; once the claim is open the dialog waits for more files (ATTACH) or for
the client's answer to a staff question (INFO, entered from the staff side by workflow.py
whatever the dialog was doing). A move the table does not allow is a programming error.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from bot.states import Dialog

DIALOG = Dialog.CLAIM
COLLECT_TTL = timedelta(hours=2)  # a report being collected waits this long for the next answer
ATTACH_TTL = timedelta(minutes=30)  # an open claim takes further files (an album) this long
QUIET_SECONDS = 120  # photo-only messages this soon after a question get no second copy of it


class Step(StrEnum):
    START = "start"  # chosen from the menu: the prompt asked for the whole report at once
    ORDER = "order"  # which order?
    SKU = "sku"  # which item of the order?
    QTY = "qty"  # how many pieces?
    DESCRIPTION = "description"  # what is wrong?
    UNUSED = "unused"  # are the goods unused?
    EVIDENCE = "evidence"  # a photo or video, please
    ATTACH = "attach"  # the claim is open: further files and details join it
    INFO = "info"  # staff asked the client a question (needs_info): the answer goes to QC


# The questions, in the order the first missing answer is asked for (intake.missing).
COLLECTING = (Step.ORDER, Step.SKU, Step.QTY, Step.DESCRIPTION, Step.UNUSED, Step.EVIDENCE)
AFTER_OPENING = frozenset({Step.ATTACH, Step.INFO})
# How many times a question is asked before the claim is opened without its answer.
MAX_ASKS = {Step.ORDER: 2, Step.SKU: 1, Step.QTY: 1, Step.UNUSED: 1}

_ASK_OR_OPEN = frozenset({*COLLECTING, Step.ATTACH})
# step → the steps the next message may lead to (None: no claim dialog yet, or a fresh report).
NEXT: dict[Step | None, frozenset[Step]] = {
    None: frozenset({Step.START, *_ASK_OR_OPEN}),
    Step.START: _ASK_OR_OPEN,
    **{step: _ASK_OR_OPEN for step in COLLECTING},  # ask the next missing answer (again), or open
    Step.ATTACH: AFTER_OPENING,  # more files; the claim waiting for information → INFO
    Step.INFO: AFTER_OPENING,  # the answer's files send the claim back to review → ATTACH
}


class StepError(ValueError):
    """A move the map above does not have."""


def check(before: Step | None, after: Step) -> Step:
    if after not in NEXT[before]:
        raise StepError(f"claim dialog: no move from {before} to {after}")
    return after
