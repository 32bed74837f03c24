"""Logistics and customs documents on request: "send the packing list for PO-…", "装箱单", "发票", "原产地".

The PDFs are generated from the order's own data (`handlers.orders.pdf`), written to
the media directory and sent as document attachments on the client's channel; the adapter
delivers them (Telegram sendDocument, WhatsApp via a signed /media link, WeChat media
upload, email attachment). Only the order's own client gets them.
The fonts are found and loaded when the handler is built, at start-up: a missing font stops
`serve` with the config key to set, not the first client who asks for an invoice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from bot.i18n import N_
from bot.ids import candidates, fold
from bot.messages import Button
from config.settings import DocumentsSettings
from handlers.base import Context, Outcome
from handlers.orders import access as order_access
from handlers.orders import pdf as order_documents
from handlers.orders.fonts import load_fonts
from storage.repos import audit, orders

log = logging.getLogger(__name__)

ASKS: dict[str, re.Pattern[str]] = {
    "invoice": re.compile(r"commercial\s+invoice|\binvoices?\b|商业发票|发票", re.IGNORECASE),
    "packing_list": re.compile(r"packing\s*list|装箱单|箱单", re.IGNORECASE),
    "origin": re.compile(r"\borigin\b|原产地|产地证|产地", re.IGNORECASE),
    "description": re.compile(
        r"(product|packaging)\s+(and\s+packaging\s+)?descriptions?|产品描述|产品说明|包装说明|包装描述|包装信息|产品/包装",
        re.IGNORECASE,
    ),
}
ALL = re.compile(
    r"\b(shipping|customs|export|all(\s+the)?)\s+(documents|docs|papers)\b|\bdocuments\b|单据|报关资料|清关资料|报关文件",
    re.IGNORECASE,
)
KIND_WORDS = {
    "invoice": N_("commercial invoice"),
    "packing_list": N_("packing list"),
    "origin": N_("origin information"),
    "description": N_("product description"),
}


def requested(text: str) -> list[str]:
    folded = fold(text)
    kinds = [kind for kind, pattern in ASKS.items() if pattern.search(folded)]
    if not kinds and ALL.search(folded):
        kinds = list(order_documents.KINDS)
    return kinds


class Documents:
    name = "documents"
    observer = False

    def __init__(self, media_dir: str | Path, settings: DocumentsSettings | None = None) -> None:
        settings = settings or DocumentsSettings()
        self.media_dir = Path(media_dir)
        self.fonts = load_fonts(settings)  # ConfigError naming documents.* when a font is missing
        self.seller = order_documents.Seller.from_settings(settings)
        if not self.seller.name or not self.seller.address:
            log.warning("documents.seller_name / seller_address are empty: invoices will show no seller")

    def matches(self, ctx: Context) -> bool:
        return ctx.staff is None and bool(requested(ctx.text))

    async def handle(self, ctx: Context) -> Outcome:
        kinds = requested(ctx.text)
        if not await order_access.verified(ctx):
            await order_access.refuse_unverified(ctx, "documents")
            return Outcome.DONE
        assert ctx.client is not None
        if candidates(ctx.text):
            order = await order_access.find_own(ctx)
            if order is None:
                await order_access.not_found(ctx)
                return Outcome.DONE
        else:
            open_orders = await orders.open_orders(ctx.session, ctx.client.id)
            if len(open_orders) != 1:
                await self._ask_which(ctx, kinds, open_orders)
                return Outcome.DONE
            order = open_orders[0]
        # reportlab is CPU work (tens of ms a page): off the event loop, so webhooks keep answering.
        # The order, its lines and the client are fully loaded; nothing lazy-loads in the thread.
        attachments = [
            await asyncio.to_thread(
                order_documents.document,
                kind,
                order,
                ctx.client,
                self.media_dir,
                seller=self.seller,
                fonts=self.fonts,
            )
            for kind in kinds
        ]
        names = ", ".join(ctx._(KIND_WORDS[k]) for k in kinds)
        await ctx.reply(
            ctx._("Here is the {documents} for order {order}.", documents=names, order=order.number),
            attachments=attachments,
        )
        await audit.record(
            ctx.session,
            "bot",
            "documents_sent",
            f"order:{order.number}",
            kinds=kinds,
            contact=ctx.contact.id,
            sha256=[a.sha256 for a in attachments],
        )
        return Outcome.DONE

    async def _ask_which(self, ctx: Context, kinds: list[str], open_orders: list) -> None:  # type: ignore[type-arg]
        if not open_orders:
            await ctx.reply(
                ctx._(
                    "Which order is it for? Please send the order number (as on your PO, e.g. PO-YYYY-NNNN).",
                )
            )
            return
        # Telegram keeps 64 bytes of a button's value: several kinds ride as "documents".
        words = ctx._("documents") if len(kinds) > 2 else " ".join(ctx._(KIND_WORDS[k]) for k in kinds)
        await ctx.reply(
            ctx._("Which order are the documents for?"),
            buttons=[Button(o.number, f"{words} {o.number}") for o in open_orders],
        )
