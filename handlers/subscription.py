"""Follow / unfollow events (WeChat's `subscribe` and `unsubscribe`), and a follower's QR scan.

A new follower has not written a word yet, so we cannot tell their language: the
welcome is in Chinese and English, with the menu they can answer by digit. A follower
scanning one of our QR codes (`scan`: on a carton, a catalogue) comes to talk to us the
same way and gets the same welcome. An unfollow is recorded and never answered (WeChat
would refuse the message anyway).
Adapters mark these events with `extra["event"]`; nothing here knows a provider.
"""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import N_, Translator, side_by_side
from handlers.base import Context, Outcome
from handlers.menu import CHOICES, LABELS, REPLY_WITH_NUMBER, MenuChoice
from storage.repos import audit

EVENTS = {
    "subscribe": "contact_subscribed",
    "unsubscribe": "contact_unsubscribed",
    "scan": "contact_scanned_qr",
}
WELCOME_LANGUAGES = ("zh", "en")  # most followers of a Chinese factory's account read Chinese first
WELCOME = N_("Hello and thank you for following us! This is your bag factory's after-sales service.")


def welcome_text() -> str:
    lines = [
        *(Translator.for_language(lang)._(WELCOME) for lang in WELCOME_LANGUAGES),
        "",
    ]
    lines += [f"{i}. {side_by_side(LABELS[c], WELCOME_LANGUAGES)}" for i, c in enumerate(CHOICES, 1)]
    lines += ["", *(Translator.for_language(lang)._(REPLY_WITH_NUMBER) for lang in WELCOME_LANGUAGES)]
    return "\n".join(lines)


class Subscription:
    name = "subscription"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.message.extra.get("event") in EVENTS

    async def handle(self, ctx: Context) -> Outcome:
        event = ctx.message.extra.get("event")
        await audit.record(
            ctx.session,
            "client",
            EVENTS[str(event)],
            f"contact:{ctx.contact.id}",
            channel=str(ctx.message.channel),
        )
        if event == "unsubscribe":
            ctx.end_dialog()
            return Outcome.DONE
        await ctx.reply(welcome_text())
        ctx.start_dialog(MenuChoice.name, ttl=timedelta(minutes=30))
        return Outcome.DONE
