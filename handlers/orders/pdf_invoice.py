"""The commercial invoice's body: what a customs broker checks before filing the entry.

Lines with HS code, origin and value; totals in figures per currency; the consignment
(marks and numbers, packages, net and gross weight) as the packing list states it; the
exporter's declaration and a signature block for the one who signs and stamps it.
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from bot.i18n import N_
from handlers.orders.pdf_kit import Pen, Seller, both, consignment, table
from handlers.orders.pdf_numbers import invoice_amounts, money, shipment
from storage.models import Order

DECLARATION = N_(
    "We hereby certify that this invoice shows the actual price of the goods described, "
    "that all particulars are true and correct, and that the goods are of the origin stated above."
)

BLANK = "_" * 20  # where the signer writes by hand


def invoice_body(pen: Pen, order: Order, seller: Seller) -> list[object]:
    p = pen.para
    rows, totals = invoice_amounts(order)
    head = ["SKU", both(N_("Description")), "HS code", "Origin", "Qty (pcs)", "Unit price", "Amount", "Cur."]
    data = [[p(h, bold=True) for h in head]]
    for line, pieces, price, amount, spare in rows:
        desc = line.description + " — " + both(N_("spare units, no charge")) if spare else line.description
        if line.material and not spare:
            desc += f"\n{line.material}"
        data.append(
            [
                p(line.sku),
                p(desc),
                p(line.hs_code or "-"),
                p(line.origin or "-"),
                p(f"{pieces:,}"),
                p(money(price)),
                p(money(amount)),
                p(line.currency or "USD"),
            ]
        )
    pieces_total = sum(r[1] for r in rows)
    widths = [22 * mm, 60 * mm, 18 * mm, 15 * mm, 18 * mm, 18 * mm, 22 * mm, 12 * mm]
    out: list[object] = [table(pen, data, widths)]
    out.append(Spacer(1, 4 * mm))
    out.append(p(both(N_("Total quantity")) + f": {pieces_total:,} pcs", bold=True, size=10))
    for cur, total in totals.items():
        out.append(p(both(N_("Total amount")) + f": {cur} {money(total)}", bold=True, size=10))
    if order.spare_ratio:
        out.append(
            p(f"Spare units ({order.spare_ratio * 100:g}%, agreed in the PI) are supplied free of charge.")
        )
    out += [Spacer(1, 4 * mm), consignment(pen, shipment(order), 180 * mm), Spacer(1, 4 * mm)]
    out += [p(both(DECLARATION, sep="\n"), size=8), Spacer(1, 6 * mm), signature(pen, seller)]
    return out


def signature(pen: Pen, seller: Seller) -> object:
    p = pen.para
    rows = [
        [
            p(both(N_("For and on behalf of")) + f": {seller.name or '-'}", bold=True),
            p(both(N_("Company stamp")), bold=True),
        ],
        [p("\n\n" + both(N_("Authorised signature")) + ": " + BLANK), p("")],
        [p(both(N_("Name and title")) + ": " + BLANK), p("")],
        [p(both(N_("Place and date")) + ": " + BLANK), p("")],
    ]
    sig = table(pen, rows, [120 * mm, 60 * mm], header=False)
    sig.setStyle([("SPAN", (1, 1), (1, 3)), ("GRID", (0, 0), (-1, -1), 0.4, "grey")])
    return sig
