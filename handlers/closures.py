"""The factory is closed: tell a client once per conversation and closure, then carry on.

An observer, so the message is still answered as usual (status, claim, FAQ) and an urgent
one still pages the rota; the notice only says why a person will not answer until the
reopening date. Which conversations were told is stored, so a restart or a second process
never tells anyone twice.
"""

from __future__ import annotations

from bot.i18n import Translator
from escalation.calendar import Calendar, Closure
from handlers.base import Context, Outcome
from storage.repos import closures


def closure_notice(language: str, closure: Closure) -> str:
    tr = Translator.for_language(language)
    return tr._(
        "Our factory is closed for {name} from {start} to {end} and reopens on {reopens}. "
        "Your message has reached us and our team will answer when we are back; "
        "anything urgent still goes to the colleague on call.",
        name=closure.name_in(tr.language),
        start=closure.start.isoformat(),
        end=closure.end.isoformat(),
        reopens=closure.reopens.isoformat(),
    )


class ClosureNotice:
    name = "closure_notice"
    observer = True

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar

    def matches(self, ctx: Context) -> bool:
        # Clients only, and never on a follow/unfollow event (nobody wrote anything).
        return ctx.staff is None and not ctx.message.extra.get("event") and bool(self.calendar.closures)

    async def handle(self, ctx: Context) -> Outcome:
        closure = self.calendar.closure_at(ctx.now)
        if closure is None:
            return Outcome.CONTINUE
        if await closures.first_notice(ctx.session, ctx.conversation.id, closure.key, ctx.now):
            await ctx.reply(closure_notice(ctx.language, closure))
        return Outcome.CONTINUE
