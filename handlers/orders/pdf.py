"""Logistics and customs documents as PDF, generated from the order's own data.

Four documents: commercial invoice, packing list, origin information, product and
packaging description. reportlab draws them; Chinese text uses reportlab's built-in
CID font STSong-Light (Adobe's Asian font pack is referenced, not embedded), so nothing
is downloaded and no font file ships with the package; Latin-only text uses Helvetica.

Conventions (the order format has no other unit for them):
- `gross_kg` / `net_kg` and `carton_cm` are per export carton; a line's `cartons` hold
  its bulk `quantity`, so units per carton = quantity / cartons.
- Spare units (ceil(quantity × spare_ratio), agreed in the PI) are their own lines:
  on the invoice at no charge; on the packing list in ceil(spares / units per carton)
  extra cartons, net weight pro rata per unit, gross = net + that many cartons' tare.
Files go to the media directory under the same sha256 layout as received media
(`<dir>/<sha[:2]>/<sha>`), so `/media/{token}` links and channel adapters find them.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from bot.i18n import N_, side_by_side
from bot.messages import Attachment, AttachmentKind
from storage.models import Client, Order, OrderLine
from storage.repos.orders import spare_units

CJK_FONT = "STSong-Light"
KINDS = ("invoice", "packing_list", "origin", "description")
TITLES = {
    "invoice": N_("Commercial Invoice"),
    "packing_list": N_("Packing List"),
    "origin": N_("Origin Information"),
    "description": N_("Product and Packaging Description"),
}
# Export papers are read at both ends of the shipment: English for the buyer and customs, Chinese for
# the factory and the forwarder, whatever language the client chats in.
DOCUMENT_LANGUAGES = ("en", "zh")


def both(msgid: str) -> str:
    return side_by_side(msgid, DOCUMENT_LANGUAGES)


FILE_NAMES = {
    "invoice": "commercial-invoice",
    "packing_list": "packing-list",
    "origin": "origin-information",
    "description": "product-packaging-description",
}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_registered = False


@dataclass(frozen=True)
class Seller:
    name: str = "Aftersales Bag Manufacturing Co., Ltd."
    address: str = "Xiamen, Fujian, China"


def _fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def para(text: object, *, bold: bool = False, size: float = 8) -> Paragraph:
    value = "" if text is None else str(text)
    font = CJK_FONT if _CJK.search(value) else ("Helvetica-Bold" if bold else "Helvetica")
    safe = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")
    return Paragraph(safe, ParagraphStyle("c", fontName=font, fontSize=size, leading=size * 1.3))


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def kg(value: float) -> str:
    return f"{value:,.2f}"


# ---- the numbers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackRow:
    sku: str
    description: str
    packaging: str
    pieces: int
    cartons: int
    carton_cm: str
    net_kg: float
    gross_kg: float
    cbm: float
    spare: bool


def packing_rows(order: Order) -> list[PackRow]:
    rows: list[PackRow] = []
    for line in order.lines:
        cartons = line.cartons or 0
        per_carton = line.quantity / cartons if cartons else 0.0
        dims = line.carton_cm or []
        volume = (dims[0] * dims[1] * dims[2] / 1_000_000) if len(dims) == 3 else 0.0
        dims_text = "×".join(f"{d:g}" for d in dims) if dims else "-"
        net, gross = line.net_kg or 0.0, line.gross_kg or 0.0
        rows.append(
            PackRow(
                line.sku,
                line.description,
                line.packaging or "",
                line.quantity,
                cartons,
                dims_text,
                round(cartons * net, 2),
                round(cartons * gross, 2),
                round(cartons * volume, 3),
                False,
            )
        )
        spare = spare_units(line.quantity, order.spare_ratio)
        if spare:
            spare_cartons = math.ceil(spare / per_carton) if per_carton else 0
            spare_net = round(spare * net / per_carton, 2) if per_carton else 0.0
            spare_gross = round(spare_net + spare_cartons * (gross - net), 2)
            rows.append(
                PackRow(
                    line.sku,
                    line.description + " (" + both(N_("spare units")) + ")",
                    line.packaging or "",
                    spare,
                    spare_cartons,
                    dims_text,
                    spare_net,
                    spare_gross,
                    round(spare_cartons * volume, 3),
                    True,
                )
            )
    return rows


def invoice_amounts(
    order: Order,
) -> tuple[list[tuple[OrderLine, int, Decimal, Decimal, bool]], dict[str, Decimal]]:
    """(line, pieces, unit price, amount, is_spare) rows and the total per currency."""
    rows: list[tuple[OrderLine, int, Decimal, Decimal, bool]] = []
    totals: dict[str, Decimal] = {}
    for line in order.lines:
        price = Decimal(line.unit_price or 0)
        amount = (price * line.quantity).quantize(Decimal("0.01"), ROUND_HALF_UP)
        rows.append((line, line.quantity, price, amount, False))
        cur = line.currency or "USD"
        totals[cur] = totals.get(cur, Decimal(0)) + amount
        spare = spare_units(line.quantity, order.spare_ratio)
        if spare:
            rows.append((line, spare, Decimal(0), Decimal("0.00"), True))
    return rows, totals


# ---- the documents -------------------------------------------------------------------------------


def _table(data: list[list[Paragraph]], widths: list[float] | None = None) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _header(kind: str, order: Order, client: Client, seller: Seller, today: date) -> list[object]:
    parties = [
        [para(both(N_("Seller")), bold=True), para(both(N_("Buyer")), bold=True)],
        [para(f"{seller.name}\n{seller.address}"), para(client.name)],
    ]
    refs = [
        [
            para(both(N_("Order")), bold=True),
            para(order.number),
            para(both(N_("PI No.")), bold=True),
            para(order.pi_number or "-"),
        ],
        [
            para(both(N_("Incoterm")), bold=True),
            para(order.incoterm or "-"),
            para(both(N_("Date")), bold=True),
            para(today.isoformat()),
        ],
    ]
    if order.carrier or order.tracking:
        refs.append(
            [
                para(both(N_("Carrier")), bold=True),
                para(order.carrier or "-"),
                para(both(N_("Tracking")), bold=True),
                para(order.tracking or "-"),
            ]
        )
    return [
        para(both(TITLES[kind]), bold=True, size=15),
        Spacer(1, 4 * mm),
        _table(parties),
        Spacer(1, 3 * mm),
        Table(refs),
        Spacer(1, 5 * mm),
    ]


def _invoice(order: Order) -> list[object]:
    rows, totals = invoice_amounts(order)
    head = ["SKU", both(N_("Description")), "HS code", "Origin", "Qty (pcs)", "Unit price", "Amount", "Cur."]
    data = [[para(h, bold=True) for h in head]]
    for line, pieces, price, amount, spare in rows:
        desc = line.description + " — " + both(N_("spare units, no charge")) if spare else line.description
        if line.material and not spare:
            desc += f"\n{line.material}"
        data.append(
            [
                para(line.sku),
                para(desc),
                para(line.hs_code or "-"),
                para(line.origin or "-"),
                para(f"{pieces:,}"),
                para(money(price)),
                para(money(amount)),
                para(line.currency or "USD"),
            ]
        )
    pieces_total = sum(r[1] for r in rows)
    out: list[object] = [
        _table(data, [22 * mm, 62 * mm, 18 * mm, 13 * mm, 18 * mm, 18 * mm, 22 * mm, 12 * mm])
    ]
    out.append(Spacer(1, 4 * mm))
    out.append(para(both(N_("Total quantity")) + f": {pieces_total:,} pcs", bold=True, size=10))
    for cur, total in totals.items():
        out.append(para(both(N_("Total amount")) + f": {cur} {money(total)}", bold=True, size=10))
    if order.spare_ratio:
        out.append(
            para(f"Spare units ({order.spare_ratio * 100:g}%, agreed in the PI) are supplied free of charge.")
        )
    return out


def _packing(order: Order) -> list[object]:
    rows = packing_rows(order)
    head = [
        "SKU",
        both(N_("Description")),
        both(N_("Packaging")),
        "Pcs",
        "Cartons",
        "Carton cm",
        "N.W. kg",
        "G.W. kg",
        "CBM",
    ]
    data = [[para(h, bold=True) for h in head]]
    for r in rows:
        data.append(
            [
                para(r.sku),
                para(r.description),
                para(r.packaging),
                para(f"{r.pieces:,}"),
                para(f"{r.cartons:,}"),
                para(r.carton_cm),
                para(kg(r.net_kg)),
                para(kg(r.gross_kg)),
                para(f"{r.cbm:.3f}"),
            ]
        )
    total = [
        para(both(N_("TOTAL")), bold=True),
        para(""),
        para(""),
        para(f"{sum(r.pieces for r in rows):,}", bold=True),
        para(f"{sum(r.cartons for r in rows):,}", bold=True),
        para(""),
        para(kg(sum(r.net_kg for r in rows)), bold=True),
        para(kg(sum(r.gross_kg for r in rows)), bold=True),
        para(f"{sum(r.cbm for r in rows):.3f}", bold=True),
    ]
    data.append(total)
    widths = [22 * mm, 60 * mm, 55 * mm, 18 * mm, 18 * mm, 24 * mm, 22 * mm, 22 * mm, 18 * mm]
    return [_table(data, widths)]


def _origin(order: Order, seller: Seller) -> list[object]:
    head = ["SKU", both(N_("Description")), "HS code", both(N_("Country of origin")), both(N_("Material"))]
    data = [[para(h, bold=True) for h in head]]
    for line in order.lines:
        data.append(
            [
                para(line.sku),
                para(line.description),
                para(line.hs_code or "-"),
                para(line.origin or "-"),
                para(line.material or "-"),
            ]
        )
    origins = sorted({line.origin for line in order.lines if line.origin})
    return [
        _table(data, [22 * mm, 60 * mm, 20 * mm, 32 * mm, 46 * mm]),
        Spacer(1, 4 * mm),
        para(
            f"The goods above were manufactured by {seller.name} in {', '.join(origins) or '-'}. "
            "A certificate of origin can be issued on request."
        ),
    ]


def _description(order: Order) -> list[object]:
    head = [
        "SKU",
        both(N_("Product")),
        both(N_("Material")),
        both(N_("Packaging")),
        "Carton cm",
        "Pcs/carton",
    ]
    data = [[para(h, bold=True) for h in head]]
    for line in order.lines:
        per = f"{line.quantity / line.cartons:g}" if line.cartons else "-"
        dims = "×".join(f"{d:g}" for d in line.carton_cm) if line.carton_cm else "-"
        data.append(
            [
                para(line.sku),
                para(line.description),
                para(line.material or "-"),
                para(line.packaging or "-"),
                para(dims),
                para(per),
            ]
        )
    return [_table(data, [22 * mm, 46 * mm, 36 * mm, 40 * mm, 22 * mm, 20 * mm])]


def render(
    kind: str, order: Order, client: Client, *, seller: Seller | None = None, today: date | None = None
) -> bytes:
    _fonts()
    seller = seller or Seller()
    today = today or date.today()
    buf = io.BytesIO()
    size = landscape(A4) if kind == "packing_list" else A4
    doc = SimpleDocTemplate(
        buf,
        pagesize=size,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{TITLES[kind]} {order.number}",
        author=seller.name,
    )
    body: list[object] = _header(kind, order, client, seller, today)
    if kind == "invoice":
        body += _invoice(order)
    elif kind == "packing_list":
        body += _packing(order)
    elif kind == "origin":
        body += _origin(order, seller)
    else:
        body += _description(order)
    doc.build(body)
    return buf.getvalue()


def filename(kind: str, order: Order) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", order.number)
    return f"{safe}-{FILE_NAMES[kind]}.pdf"


def store(media_dir: str | Path, data: bytes) -> tuple[str, Path]:
    """Write under <dir>/<sha[:2]>/<sha>, atomically; the same bytes are stored once."""
    sha = hashlib.sha256(data).hexdigest()
    final = Path(media_dir) / sha[:2] / sha
    if not final.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".doc-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, final)
    return sha, final


def document(
    kind: str, order: Order, client: Client, media_dir: str | Path, *, seller: Seller | None = None
) -> Attachment:
    data = render(kind, order, client, seller=seller)
    sha, path = store(media_dir, data)
    return Attachment(
        kind=AttachmentKind.DOCUMENT,
        mime="application/pdf",
        filename=filename(kind, order),
        size=len(data),
        sha256=sha,
        stored_path=str(path),
    )
