"""Logistics and customs documents as PDF, generated from the order's own data.

Four documents: commercial invoice, packing list, origin information, product and
packaging description, each headed by the parties (seller from config, buyer and
consignee from the client record) and the shipment's references. reportlab draws them
in TrueType faces it embeds as subsets (`handlers.orders.fonts`): the file shows the
same on a broker's machine that has no Chinese font at all.
The figures are in `pdf_numbers`, the invoice's and packing list's bodies in their modules.
Files go to the media directory under the same sha256 layout as received media
(`<dir>/<sha[:2]>/<sha>`), so `/media/{token}` links and channel adapters find them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from datetime import date
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from bot.i18n import N_
from bot.messages import Attachment, AttachmentKind
from config.settings import DocumentsSettings
from handlers.orders.fonts import DocumentFonts, load_fonts
from handlers.orders.pdf_invoice import invoice_body
from handlers.orders.pdf_kit import Pen, Seller, both, numbered_canvas, table
from handlers.orders.pdf_numbers import dims_text, invoice_amounts, kg, money, packing_rows
from handlers.orders.pdf_packing import packing_body
from storage.models import Client, Order

__all__ = ["KINDS", "Seller", "document", "invoice_amounts", "kg", "money", "packing_rows", "render"]

KINDS = ("invoice", "packing_list", "origin", "description")
TITLES = {
    "invoice": N_("Commercial Invoice"),
    "packing_list": N_("Packing List"),
    "origin": N_("Origin Information"),
    "description": N_("Product and Packaging Description"),
}
FILE_NAMES = {
    "invoice": "commercial-invoice",
    "packing_list": "packing-list",
    "origin": "origin-information",
    "description": "product-packaging-description",
}


def invoice_number(order: Order) -> str:
    """One invoice per order, so its number is the order's: the same on every re-issue."""
    return f"INV-{order.number}"


def _seller_text(seller: Seller) -> str:
    lines = [seller.name or "-", seller.address]
    if seller.tax_id:
        lines.append(both(N_("Tax ID")) + f": {seller.tax_id}")
    if seller.contact:
        lines.append(both(N_("Contact")) + f": {seller.contact}")
    return "\n".join(x for x in lines if x)


def _header(
    pen: Pen, kind: str, order: Order, client: Client, seller: Seller, today: date, width: float
) -> list[object]:
    p = pen.para
    buyer = "\n".join(x for x in (client.name, client.address or "") if x)
    heads = (both(N_("Seller / Exporter")), both(N_("Buyer")), both(N_("Consignee")))
    parties = [
        [p(h, bold=True) for h in heads],
        [p(_seller_text(seller)), p(buyer), p(client.consignee or both(N_("Same as buyer")))],
    ]
    currencies = ", ".join(sorted({line.currency or "USD" for line in order.lines})) or "-"
    origins = ", ".join(sorted({line.origin for line in order.lines if line.origin})) or "-"
    pairs = [
        (N_("Invoice No."), invoice_number(order), N_("Date"), today.isoformat()),
        (N_("Order"), order.number, N_("PI No."), order.pi_number or "-"),
        (N_("Incoterm"), order.incoterm or "-", N_("Payment terms"), order.payment_terms or "-"),
        (
            *(N_("Port of loading"), order.port_of_loading or "-"),
            *(N_("Port of discharge"), order.port_of_discharge or "-"),
        ),
        (N_("Currency"), currencies, N_("Country of origin"), origins),
    ]
    if order.carrier or order.tracking:
        pairs.append((N_("Carrier"), order.carrier or "-", N_("Tracking"), order.tracking or "-"))
    refs = [[p(both(a), bold=True), p(b), p(both(c), bold=True), p(d)] for a, b, c, d in pairs]
    quarter = [width * s for s in (0.2, 0.3, 0.2, 0.3)]
    return [
        p(both(TITLES[kind]), bold=True, size=15),
        Spacer(1, 4 * mm),
        table(pen, parties, [width / 3] * 3),
        Spacer(1, 3 * mm),
        table(pen, refs, quarter, header=False, grid=False),
        Spacer(1, 5 * mm),
    ]


def _origin(pen: Pen, order: Order, seller: Seller) -> list[object]:
    p = pen.para
    head = ["SKU", both(N_("Description")), "HS code", both(N_("Country of origin")), both(N_("Material"))]
    data = [[p(h, bold=True) for h in head]]
    for line in order.lines:
        data.append(
            [
                p(line.sku),
                p(line.description),
                p(line.hs_code or "-"),
                p(line.origin or "-"),
                p(line.material or "-"),
            ]
        )
    origins = sorted({line.origin for line in order.lines if line.origin})
    return [
        table(pen, data, [22 * mm, 60 * mm, 20 * mm, 32 * mm, 46 * mm]),
        Spacer(1, 4 * mm),
        p(
            f"The goods above were manufactured by {seller.name or '-'} in {', '.join(origins) or '-'}. "
            "A certificate of origin can be issued on request."
        ),
    ]


def _description(pen: Pen, order: Order) -> list[object]:
    p = pen.para
    head = [
        "SKU",
        both(N_("Product")),
        both(N_("Material")),
        both(N_("Packaging")),
        "Carton cm",
        "Pcs/carton",
    ]
    data = [[p(h, bold=True) for h in head]]
    for line in order.lines:
        per = f"{line.quantity / line.cartons:g}" if line.cartons else "-"
        data.append(
            [
                p(line.sku),
                p(line.description),
                p(line.material or "-"),
                p(line.packaging or "-"),
                p(dims_text(line.carton_cm)),
                p(per),
            ]
        )
    return [table(pen, data, [22 * mm, 46 * mm, 36 * mm, 40 * mm, 22 * mm, 20 * mm])]


def render(
    kind: str,
    order: Order,
    client: Client,
    *,
    seller: Seller | None = None,
    fonts: DocumentFonts | None = None,
    today: date | None = None,
) -> bytes:
    fonts = fonts or load_fonts(DocumentsSettings())
    pen = Pen(fonts)
    seller = seller or Seller()
    today = today or date.today()
    buf = io.BytesIO()
    size = landscape(A4) if kind == "packing_list" else A4
    margin = 12 * mm
    doc = SimpleDocTemplate(
        buf,
        pagesize=size,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 3 * mm,  # room for the page number
        title=f"{TITLES[kind]} {order.number}",
        author=seller.name,
    )
    body: list[object] = _header(pen, kind, order, client, seller, today, size[0] - 2 * margin)
    if kind == "invoice":
        body += invoice_body(pen, order, seller)
    elif kind == "packing_list":
        body += packing_body(pen, order)
    elif kind == "origin":
        body += _origin(pen, order, seller)
    else:
        body += _description(pen, order)
    label = f"{order.number} · {TITLES[kind]}"
    doc.build(body, canvasmaker=numbered_canvas(pen.font_for(label), label))
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
    kind: str,
    order: Order,
    client: Client,
    media_dir: str | Path,
    *,
    seller: Seller | None = None,
    fonts: DocumentFonts | None = None,
) -> Attachment:
    data = render(kind, order, client, seller=seller, fonts=fonts)
    sha, path = store(media_dir, data)
    return Attachment(
        kind=AttachmentKind.DOCUMENT,
        mime="application/pdf",
        filename=filename(kind, order),
        size=len(data),
        sha256=sha,
        stored_path=str(path),
    )
