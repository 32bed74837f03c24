"""Follow / unfollow events (WeChat's `subscribe` and `unsubscribe`).

A new follower has not written a word yet, so we cannot tell their language: the
welcome is in Chinese and English, with the menu they can answer by digit. An
unfollow is recorded and never answered (WeChat would refuse the message anyway).
Adapters mark these events with `extra["event"]`; nothing here knows a provider.
"""

from __future__ import annotations

from datetime import timedelta

from handlers.base import Context, Outcome
from handlers.menu import CHOICES, LABELS, MenuChoice
from storage.repos import audit


def welcome_text() -> str:
    lines = [
        "您好，感谢关注！我们是您的箱包工厂售后服务。",
        "Hello and thank you for following us! This is your bag factory's after-sales service.",
        "",
    ]
    lines += [f"{i}. {LABELS[c][1]} / {LABELS[c][0]}" for i, c in enumerate(CHOICES, 1)]
    lines += [
        "",
        "请回复数字，或直接告诉我们您的需求。",
        "Reply with a number or just tell us what you need.",
    ]
    return "\n".join(lines)


class Subscription:
    name = "subscription"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.message.extra.get("event") in {"subscribe", "unsubscribe"}

    async def handle(self, ctx: Context) -> Outcome:
        event = ctx.message.extra.get("event")
        await audit.record(
            ctx.session,
            "client",
            f"contact_{event}d",
            f"contact:{ctx.contact.id}",
            channel=str(ctx.message.channel),
        )
        if event == "unsubscribe":
            ctx.end_dialog()
            return Outcome.DONE
        await ctx.reply(welcome_text())
        ctx.start_dialog(MenuChoice.name, ttl=timedelta(minutes=30))
        return Outcome.DONE
