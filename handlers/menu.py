"""Greeting and menu: what a client sees when nothing more specific applies.

The menu offers the four things clients come for. Buttons carry `menu:<choice>`;
where a channel shows no buttons the client answers with the digit, which this
handler maps back while its short dialog is open.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.i18n import N_, Translator
from bot.messages import Button
from bot.states import Dialog
from handlers.base import Context, Outcome

CHOICES = ("order_status", "claim", "documents", "handoff")
LABELS = {
    "order_status": N_("Order status"),
    "claim": N_("Report a defect"),
    "documents": N_("Shipping documents"),
    "handoff": N_("Talk to a person"),
}
PROMPTS = {
    "order_status": N_("Please send your order number (for example PO-2026-0117)."),
    "claim": N_("Please send photos or a video of the defect, with the order number and what is wrong."),
    "documents": N_(
        "Which order, and which document: commercial invoice, packing list, origin information "
        "or product/packaging description?"
    ),
    "handoff": "",
}
REPLY_WITH_NUMBER = N_("Reply with a number or just tell us what you need.")
GREETING = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|menu|help|start|/start|/help"
    r"|你好|您好|菜单|帮助|在吗)\b",
    re.IGNORECASE,
)


def menu_buttons(tr: Translator) -> list[Button]:
    return [Button(tr._(LABELS[c]), f"menu:{c}") for c in CHOICES]


def menu_text(tr: Translator, name: str | None = None) -> str:
    lines = [
        tr._("Hello {name}! How can we help you today?", name=name)
        if name
        else tr._("Hello! How can we help you today?")
    ]
    lines += [f"{i}. {tr._(LABELS[c])}" for i, c in enumerate(CHOICES, 1)]
    lines.append(tr._(REPLY_WITH_NUMBER))
    return "\n".join(lines)


def chosen(ctx: Context) -> str | None:
    """The menu choice this message makes, if any (button value, or a digit right after the menu)."""
    text = ctx.text
    if text.startswith("menu:") and text[5:] in CHOICES:
        return text[5:]
    if ctx.in_dialog(MenuChoice.name) and text in {"1", "2", "3", "4"}:
        return CHOICES[int(text) - 1]
    return None


class MenuChoice:
    """A pressed menu button (or digit): answer with the prompt for that path."""

    name: str = Dialog.MENU_CHOICE
    observer = False

    def matches(self, ctx: Context) -> bool:
        choice = chosen(ctx)
        # claim: handlers/claims.py; handoff: handlers/handoff.py
        return ctx.staff is None and choice is not None and choice not in {"handoff", "claim"}

    async def handle(self, ctx: Context) -> Outcome:
        choice = chosen(ctx) or ""
        ctx.end_dialog()
        await ctx.reply(ctx._(PROMPTS[choice]))
        return Outcome.DONE


class Menu:
    """Greets and shows the menu; the last responder, so it also catches what nobody else understood.

    Not after an observer answered the message itself (an urgent notice): "did not understand"
    would contradict it.
    """

    name = "menu"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return not ctx.handled

    async def handle(self, ctx: Context) -> Outcome:
        greeting = bool(GREETING.match(ctx.text)) or not ctx.text
        prefix = "" if greeting else ctx._("Sorry, I did not understand that.") + "\n"
        name = ctx.contact.name if greeting else None
        await ctx.reply(prefix + menu_text(ctx.translator, name), buttons=menu_buttons(ctx.translator))
        ctx.start_dialog(MenuChoice.name, ttl=timedelta(minutes=30))
        return Outcome.DONE
