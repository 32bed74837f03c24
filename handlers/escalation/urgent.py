"""Observers that call a person: urgent words, and a client who repeats themselves or is upset.

Both run on every client message before the responders and never end the turn: the
client is told a person has been alerted, and a responder that understands the message
(an order status) still answers. Once a person is called the message counts as handled
(Outcome.HANDLED), so the menu's "did not understand" never follows the alert.
"""

from __future__ import annotations

import re

from bot.states import ConversationState, Priority
from escalation.keywords import UrgencyMatcher
from handlers.base import Context, Outcome
from handlers.ports import Escalator, escalate
from storage.repos import escalations as esc_repo

ANGRY = re.compile(
    r"\b(angry|furious|ridiculous|unacceptable|terrible|worst|useless|stupid|wtf|scam|disgusting)\b|!!!"
    r"|生气|太差|垃圾|投诉|离谱|气死|骗子|什么破|无语",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def _client_text(ctx: Context) -> bool:
    return ctx.staff is None and not ctx.message.is_button and bool(ctx.text)


class Urgent:
    name = "urgent"
    observer = True

    def __init__(self, matcher: UrgencyMatcher, escalator: Escalator) -> None:
        self.matcher = matcher
        self.escalator = escalator

    def matches(self, ctx: Context) -> bool:
        return _client_text(ctx)

    async def handle(self, ctx: Context) -> Outcome:
        hit = self.matcher.find(ctx.text)
        if hit is None:
            return Outcome.CONTINUE
        existing = await esc_repo.active_for_conversation(ctx.session, ctx.conversation.id)
        already = existing is not None and existing.priority == Priority.URGENT
        ctx.conversation.priority = Priority.URGENT
        await escalate(self.escalator, ctx, "urgent", priority=Priority.URGENT, note=ctx.text)
        if not already and ctx.conversation.state != ConversationState.WITH_STAFF:
            await ctx.reply(
                ctx._(
                    "We have marked this as urgent and alerted the colleague on call right now; "
                    "they will contact you here shortly.",
                )
            )
        return Outcome.HANDLED


class Frustration:
    """Three identical messages in a row, or three upset ones: the bot is not helping; get a person."""

    name = "frustration"
    observer = True

    def __init__(self, escalator: Escalator) -> None:
        self.escalator = escalator

    def matches(self, ctx: Context) -> bool:
        return _client_text(ctx) and ctx.conversation.state == ConversationState.BOT

    async def handle(self, ctx: Context) -> Outcome:
        if ctx.conversation_started:
            return Outcome.CONTINUE  # the first message cannot be the third in a row
        texts = await esc_repo.recent_inbound_texts(ctx.session, ctx.conversation.id, 3)
        if len(texts) < 3:
            return Outcome.CONTINUE
        norm = [_SPACES.sub(" ", t.strip().lower()) for t in texts]
        repeated = len(set(norm)) == 1 and len(norm[0]) >= 3 and not norm[0].isdigit()
        upset = all(ANGRY.search(t) for t in texts)
        if not (repeated or upset):
            return Outcome.CONTINUE
        if await esc_repo.active_for_conversation(ctx.session, ctx.conversation.id) is not None:
            return Outcome.CONTINUE
        await escalate(self.escalator, ctx, "repeat", note=" | ".join(reversed(texts)))
        await ctx.reply(
            ctx._(
                "I'm sorry I haven't been able to help. I have asked a colleague to step in; "
                "they will answer you here.",
            )
        )
        return Outcome.HANDLED
