"""The carton names its order: a claim photo's shipping mark links the claim to the client's own order.

What Tesseract read (handlers.claims.ocr) is searched with the chat's own order-number
recognition (bot.ids), then, because OCR confuses O with 0 and I with 1, against the
client's own order numbers with those letters folded. Only the client's own orders are
ever compared, so a number of another client's order is never used nor echoed: to the
client it looks exactly like a label with no number at all. SKUs and carton numbers
("CTN 12/100", 箱号) are kept with what was read, for QC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.ids import candidates, fold, order_key
from handlers.base import Context
from handlers.claims.draft import ClaimDraft
from handlers.claims.ocr import LabelReader
from storage.models import AttachmentRow, Claim, ClaimEvidence, Order
from storage.repos import claims as repo
from storage.repos import orders as order_repo

FOUND = N_("We found order {order} on the carton label.")
_CARTON = re.compile(
    r"(?:\bCTN|\bCARTONS?|\bC/NO|\bCASE|箱\s*[号號])\s*(?:NO|NR|#)?\s*[.:：#]?\s*(\d{1,5})(?:\s*(?:/|OF)\s*(\d{1,5}))?",
    re.IGNORECASE,
)
_SKU = re.compile(
    r"(?:\bSKU|\bITEM|\bART|\bSTYLE|\bMODEL|货号|款号)\s*(?:NO|NR|#)?\s*[.:：#]?\s*([A-Z0-9]+(?:[-_/.][A-Z0-9]+)*)",
    re.IGNORECASE,
)
_NOT_ORDERS = ("CTN", "CARTON", "CASE", "SKU", "ITEM", "ART", "STYLE", "MODEL", "KG", "GW", "NW", "MEAS")
_LOOSE = str.maketrans("OQDILSBZG", "001115826")  # the letters Tesseract reads for digits, as those digits


def loose(key: str) -> str:
    return key.translate(_LOOSE)


def marks(text: str) -> dict[str, list[str]]:
    """Order-number candidates (keys), SKUs and carton numbers in what was read."""
    folded = fold(text)
    skus = []
    for m in _SKU.finditer(folded):
        sku = m.group(1).upper()
        if any(c.isdigit() for c in sku) and sku not in skus:
            skus.append(sku)
    cartons = []
    for m in _CARTON.finditer(folded):
        carton = f"{int(m.group(1))}/{int(m.group(2))}" if m.group(2) else str(int(m.group(1)))
        if carton not in cartons:
            cartons.append(carton)
    sku_keys = {order_key(s) for s in skus}
    orders = [k for k in candidates(folded) if k not in sku_keys and not k.startswith(_NOT_ORDERS)]
    return {"orders": orders, "skus": skus, "cartons": cartons}


def names(text: str, number: str) -> bool:
    """Whether what was read shows this order number (O read for 0 and the like allowed)."""
    key = loose(order_key(number))
    return bool(key) and key in loose(order_key(text))


def pick(text: str, own: Sequence[tuple[int, str]]) -> int | None:
    """Which of the client's own orders ((id, number key) pairs) the label names, first on the label wins.

    First the keys the chat recognises (bot.ids.candidates), then the same with O/0, I/1 …
    folded, then anywhere in the text with its spaces and line breaks gone.
    """
    keys = candidates(text)
    exact = {key: order_id for order_id, key in own}
    for key in keys:
        if key in exact:
            return exact[key]
    squashed = loose(order_key(text))
    read = {loose(k) for k in keys}
    found: list[tuple[int, int]] = []  # (where on the label, order id)
    for order_id, key in own:
        folded = loose(key)
        if folded in read:
            found.append((-1, order_id))
        elif len(folded) >= 6 and sum(c.isdigit() for c in key) >= 3 and folded in squashed:
            found.append((squashed.index(folded), order_id))
    return min(found)[1] if found else None


async def own_order(session: AsyncSession, client_id: int, text: str) -> Order | None:
    """The client's own order named on the label; another client's number is as good as none."""
    order_id = pick(text, await order_repo.keys_of_client(session, client_id))
    return await order_repo.by_id(session, order_id) if order_id is not None else None


def found_text(tr: Translator, number: str) -> str:
    return tr._(FOUND, order=number)


async def read_photos(reader: LabelReader | None, media: list[AttachmentRow]) -> None:
    """Keep what was read on each photo with its attachment (read before the transaction, or now)."""
    if reader is None or not reader.on:
        return
    for att in media:
        if att.kind == "photo" and att.ocr is None and att.stored_path:
            text = await reader.read(att.stored_path, att.sha256)
            if text is not None:
                att.ocr = {"text": text, **marks(text)}


async def order_on_label(ctx: Context, draft: ClaimDraft, media: list[AttachmentRow]) -> Order | None:
    """A draft that names no order takes the client's own order from a label, and the client is told."""
    if draft.order_number or ctx.client is None:
        return None
    for att in media:
        text = str((att.ocr or {}).get("text") or "")
        order = await own_order(ctx.session, ctx.client.id, text) if text else None
        if order is not None:
            draft.order_id, draft.order_number, draft.order_unknown = order.id, order.number, False
            await ctx.reply(found_text(ctx.translator, order.number))
            return order
    return None


async def keep_reading(
    session: AsyncSession, claim: Claim, row: ClaimEvidence, att: AttachmentRow, *, now: datetime
) -> str | None:
    """Store what was read with the evidence; a claim without an order takes the client's own from it.

    Returns the order number linked now (the client is to be told), else None.
    """
    if att.ocr is None:
        return None
    text = str(att.ocr.get("text") or "")
    row.ocr_text = text
    linked = None
    if claim.order_number is None and claim.client_id is not None and text:
        order = await own_order(session, claim.client_id, text)
        if order is not None:
            claim.order_id, claim.order_number, linked = order.id, order.number, order.number
            if claim.sku is None and len(order.lines) == 1:
                claim.sku, claim.order_line_id = order.lines[0].sku, order.lines[0].id
            await repo.add_event(
                session,
                claim,
                by="bot",
                to_state=claim.state,
                note=f"order {order.number} read on the carton label",
                now=now,
                action="claim_order_from_label",
            )
    shown = claim.order_number if claim.order_id and names(text, claim.order_number or "") else None
    row.ocr = {key: list(att.ocr.get(key) or []) for key in ("orders", "skus", "cartons")}
    row.ocr["order"] = shown  # the claim's own order, when this photo shows it
    return linked
