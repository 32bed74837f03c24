"""'Talk to a person': the client is told a colleague is coming, and staff are alerted."""

from __future__ import annotations

import re

from handlers.base import Context, Outcome
from handlers.menu import chosen
from handlers.ports import Escalator, escalate

ASK_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(person|human|someone|agent|staff|sales)\b|\b(human|agent|operator)\b"
    r"|人工|真人|客服|转人工",
    re.IGNORECASE,
)


class Handoff:
    name = "handoff"
    observer = False

    def __init__(self, escalator: Escalator) -> None:
        self.escalator = escalator

    def matches(self, ctx: Context) -> bool:
        if ctx.staff is not None:
            return False
        return chosen(ctx) == "handoff" or bool(ASK_FOR_HUMAN.search(ctx.text))

    async def handle(self, ctx: Context) -> Outcome:
        ctx.end_dialog()
        await escalate(self.escalator, ctx, "handoff", note=ctx.text)
        await ctx.reply(
            ctx._(
                "A colleague has been notified and will answer you here shortly. "
                "You can keep writing; everything you send reaches them.",
            )
        )
        return Outcome.DONE
