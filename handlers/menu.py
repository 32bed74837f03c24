"""Greeting and menu: what a client sees when nothing more specific applies.

The menu offers the four things clients come for. Buttons carry `menu:<choice>`;
where a channel shows no buttons the client answers with the digit, which this
handler maps back while its short dialog is open.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.messages import Button
from handlers.base import Context, Outcome, t

CHOICES = ("order_status", "claim", "documents", "handoff")
LABELS = {
    "order_status": ("Order status", "订单状态"),
    "claim": ("Report a defect", "报告质量问题"),
    "documents": ("Shipping documents", "物流/报关单据"),
    "handoff": ("Talk to a person", "转人工客服"),
}
PROMPTS = {
    "order_status": (
        "Please send your order number (for example PO-2026-0117).",
        "请发送您的订单号（例如 PO-2026-0117）。",
    ),
    "claim": (
        "Please send photos or a video of the defect, with the order number and what is wrong.",
        "请发送问题产品的照片或视频，并注明订单号和具体问题。",
    ),
    "documents": (
        "Which order, and which document: commercial invoice, packing list, origin information "
        "or product/packaging description?",
        "请告诉我们订单号以及所需单据：商业发票、装箱单、原产地信息或产品/包装说明。",
    ),
    "handoff": ("", ""),
}
GREETING = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|menu|help|start|/start|/help"
    r"|你好|您好|菜单|帮助|在吗)\b",
    re.IGNORECASE,
)


def menu_buttons(lang: str) -> list[Button]:
    return [Button(t(lang, *LABELS[c]), f"menu:{c}") for c in CHOICES]


def menu_text(lang: str, name: str | None = None) -> str:
    who = f" {name}" if name else ""
    lines = [
        t(lang, f"Hello{who}! How can we help you today?", f"您好{who}！请问有什么可以帮您？"),
    ]
    lines += [f"{i}. {t(lang, *LABELS[c])}" for i, c in enumerate(CHOICES, 1)]
    lines.append(
        t(lang, "Reply with a number or just tell us what you need.", "请回复数字，或直接告诉我们您的需求。")
    )
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

    name = "menu_choice"
    observer = False

    def matches(self, ctx: Context) -> bool:
        choice = chosen(ctx)
        # claim: handlers/claims.py; handoff: handlers/handoff.py
        return ctx.staff is None and choice is not None and choice not in {"handoff", "claim"}

    async def handle(self, ctx: Context) -> Outcome:
        choice = chosen(ctx) or ""
        ctx.end_dialog()
        await ctx.reply(ctx.tr(*PROMPTS[choice]))
        return Outcome.DONE


class Menu:
    """Greets and shows the menu; the last responder, so it also catches what nobody else understood."""

    name = "menu"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return True

    async def handle(self, ctx: Context) -> Outcome:
        greeting = bool(GREETING.match(ctx.text)) or not ctx.text
        prefix = (
            "" if greeting else ctx.tr("Sorry, I did not understand that.\n", "抱歉，我没有理解您的意思。\n")
        )
        name = ctx.contact.name if greeting else None
        await ctx.reply(prefix + menu_text(ctx.language, name), buttons=menu_buttons(ctx.language))
        ctx.start_dialog(MenuChoice.name, ttl=timedelta(minutes=30))
        return Outcome.DONE
