"""Technical inquiries (materials, care, sizes, MOQ, lead times) answered from the FAQ, or handed to a person.

Only messages that touch an FAQ topic are this handler's; among those, a confident
match is answered in the client's language and anything else goes to staff with an
honest "a colleague will answer": the bot never guesses.
"""

from __future__ import annotations

from escalation.faq import Faq
from handlers.base import Context, Outcome
from handlers.ports import Escalator, escalate


class FaqAnswer:
    name = "faq"
    observer = False

    def __init__(self, faq: Faq, escalator: Escalator) -> None:
        self.faq = faq
        self.escalator = escalator

    def matches(self, ctx: Context) -> bool:
        return (
            ctx.staff is None
            and not ctx.message.is_button
            and bool(ctx.text)
            and self.faq.is_inquiry(ctx.text)
        )

    async def handle(self, ctx: Context) -> Outcome:
        match = self.faq.answer(ctx.text)
        if match is not None:
            await ctx.reply(match.entry.answers.get(ctx.language) or match.entry.answers["en"])
            return Outcome.DONE
        await escalate(self.escalator, ctx, "faq", note=ctx.text)
        await ctx.reply(
            ctx._(
                "That is a good question and I don't want to guess. I have passed it to a colleague, "
                "who will answer you here shortly.",
            )
        )
        return Outcome.DONE
