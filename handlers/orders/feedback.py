"""The client's answer to "How did we do? 1–5" after a claim closes, kept with the order and SKU.

Contract with the claims side (which asks the question when a claim closes): in the
transaction that closes the claim, queue the question to the client and open the dialog

    conversations.set_dialog(conversation, "feedback", {"claim_id": claim.id}, now + timedelta(days=7))
    (or, inside a handler: ctx.start_dialog("feedback", {"claim_id": claim.id}, ttl=timedelta(days=7)))

optionally with buttons whose values are "1" … "5" (or "feedback:1" … "feedback:5").
While that dialog is open, a reply that is a score 1–5 (digits, full-width digits, "4/5",
"5 stars", "★★★★", "4分") is recorded once in `feedback` (claim, order, client, SKU, score,
the rest of the text as comment) and thanked; anything else ends the dialog and is handled
as a normal message, so a client who moves on is never stuck.
"""

from __future__ import annotations

import re

from bot.i18n import Translator
from bot.ids import fold
from bot.states import Dialog
from handlers.base import Context, Outcome
from storage.repos import orders

DIALOG = Dialog.FEEDBACK
SCORE = re.compile(
    r"^\s*(?:feedback:)?\s*([1-5])\s*(?:/\s*5|分|星|stars?|points?)?\s*(?:[-–,.:：，。!！]\s*(.*))?$",
    re.I | re.S,
)
STARS = re.compile(r"^\s*([★⭐]{1,5})\s*(.*)$", re.S)


def score_of(text: str) -> tuple[int, str | None] | None:
    folded = fold(text).strip()
    match = SCORE.match(folded)
    if match:
        return int(match.group(1)), (match.group(2) or "").strip() or None
    stars = STARS.match(folded)
    if stars:
        return len(stars.group(1)), stars.group(2).strip() or None
    return None


class FeedbackReply:
    name: str = DIALOG
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.in_dialog(DIALOG)

    async def handle(self, ctx: Context) -> Outcome:
        claim_id = ctx.dialog_state.get("claim_id")
        parsed = score_of(ctx.text)
        ctx.end_dialog()
        if parsed is None or not isinstance(claim_id, int):
            return Outcome.CONTINUE
        score, comment = parsed
        if not await orders.feedback_for_claim(ctx.session, claim_id):
            await orders.record_feedback(ctx.session, claim_id, score, comment)
        lang = ctx.language
        if ctx.text.startswith("feedback:"):  # a pressed star says nothing about the client's language
            lang = ctx.contact.language or (ctx.client.language if ctx.client else None) or lang
        await ctx.reply(
            Translator.for_language(lang)._(
                "Thank you for your feedback ({score}/5). It helps us improve future production.", score=score
            )
        )
        return Outcome.DONE
