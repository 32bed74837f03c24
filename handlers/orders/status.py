"""Order status answers: "Where is my order?", "PO-2026-0117 status", "订单到哪了", a number alone.

Only the sender's own client's orders are ever looked at (`handlers.orders.access`). With no
number and several open orders the client gets a short list of buttons whose value is the
order number, which comes back as "a number alone".
"""

from __future__ import annotations

import re

from bot.i18n import Translator
from bot.ids import candidates, fold
from bot.messages import Button
from escalation.calendar import Calendar
from handlers.base import Context, Outcome
from handlers.orders import access as order_access
from handlers.orders import text as order_text
from storage.models import Order
from storage.repos import orders
from storage.repos.orders import CLOSED_STATUSES

ASKS = re.compile(
    r"where(?:'s|\s+is|\s+are)\s+(?:my|our|the)\s+(?:order|goods|shipment)"
    r"|order\s+(?:status|update)|\bstatus\b|\beta\b|\btracking\b|\btrack\b"
    r"|when\s+will\s+(?:it|they|my\s+order|our\s+order|the\s+order|the\s+goods)\s+(?:ship|arrive|be\s+(?:ready|shipped|delivered))"
    r"|\bshipped\b|\bshipping\s+date\b|\bdelivery\s+date\b"
    r"|订单到哪|到哪了|到哪里了|什么时候发货|何时发货|发货了吗|发货没|订单状态|订单进度|生产进度|进度|物流|运单号|单号|"
    r"什么时候到|预计到|到货|查订单|出货",
    re.IGNORECASE,
)
FILLER = re.compile(r"(?i)\b(order|po|no|number|nr)\b|订单号?|[\s#:：.,，。?？!！()（）\[\]-]")


def number_alone(text: str) -> bool:
    """The message is just an order number (maybe with "order", "#", "订单" around it)."""
    folded = fold(text)
    if not candidates(folded) or len(folded) > 40:
        return False
    rest = folded
    for match in re.finditer(r"[A-Za-z]{0,5}[\s\-_#/.:]{0,3}\d[\d\s\-_/.]*", folded):
        rest = rest.replace(match.group(0), " ")
    return not FILLER.sub("", rest)


QUESTION = re.compile(
    r"\bwhere\b|\bwhen\b|\bany\s+news\b|\bupdate\b|哪|何时|什么时候|了吗|没有?[?？]?$", re.IGNORECASE
)

# A question about a claim or an escalation is not an order-status question.
NOT_ORDERS = re.compile(r"\bCLM\b|\bESC\b|\bclaims?\b|索赔|投诉|售后单", re.IGNORECASE)


def asks_status(text: str) -> bool:
    folded = fold(text)
    if NOT_ORDERS.search(folded):
        return False
    if ASKS.search(folded) or number_alone(text):
        return True
    # "Where is PO 2026 0117?", "any news on PO-…", "PO-… 到了吗": a question about a named order
    return bool(candidates(folded)) and bool(QUESTION.search(folded))


def eta_note(tr: Translator, order: Order, calendar: Calendar | None) -> str | None:
    """An open order whose ETA falls in a factory closure, or just after one, may slip: say so."""
    if calendar is None or order.eta is None or order.status in CLOSED_STATUSES:
        return None
    closure = calendar.closure_near(order.eta)
    if closure is None:
        return None
    return tr._(
        "Note: the factory is closed for {name} from {start} to {end} (reopening {reopens}), "
        "close to this ETA, so the date may move.",
        name=closure.name_in(tr.language),
        start=closure.start.isoformat(),
        end=closure.end.isoformat(),
        reopens=closure.reopens.isoformat(),
    )


class OrderStatus:
    name = "order_status"
    observer = False

    def __init__(self, calendar: Calendar | None = None) -> None:
        self.calendar = calendar

    def answer(self, tr: Translator, order: Order) -> str:
        note = eta_note(tr, order, self.calendar)
        text = order_text.status_answer(tr, order)
        return f"{text}\n{note}" if note else text

    def matches(self, ctx: Context) -> bool:
        return bool(ctx.text) and asks_status(ctx.text)

    async def handle(self, ctx: Context) -> Outcome:
        if ctx.staff is not None and ctx.client is None:
            return await self._for_staff(ctx)
        if not await order_access.verified(ctx):
            await order_access.refuse_unverified(ctx, "order_status")
            return Outcome.DONE
        assert ctx.client is not None
        if candidates(ctx.text):
            order = await order_access.find_own(ctx)
            if order is None:
                await order_access.not_found(ctx)
            else:
                await ctx.reply(self.answer(ctx.translator, order))
            return Outcome.DONE
        open_orders = await orders.open_orders(ctx.session, ctx.client.id)
        if not open_orders:
            await ctx.reply(
                ctx._(
                    "There are no open orders on your account. If you are asking about a delivered order, "
                    "please send its number (as on your PO, e.g. PO-YYYY-NNNN).",
                )
            )
        elif len(open_orders) == 1:
            await ctx.reply(self.answer(ctx.translator, open_orders[0]))
        else:
            lines = [ctx._("Which order do you mean?")]
            lines += [f"- {o.number}: {order_text.stage(ctx.translator, o.status)}" for o in open_orders]
            await ctx.reply("\n".join(lines), buttons=[Button(o.number, o.number) for o in open_orders])
        return Outcome.DONE

    async def _for_staff(self, ctx: Context) -> Outcome:
        """Registered staff may look up any order by number (they are not linked to a client)."""
        for key in candidates(ctx.text):
            order = await orders.by_key(ctx.session, key)
            if order is not None:
                await ctx.reply(self.answer(ctx.translator, order))
                return Outcome.DONE
        await ctx.reply(ctx._("No order with that number."))
        return Outcome.DONE
