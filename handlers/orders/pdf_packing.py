"""The packing list's body: per line with its carton numbers, then carton by carton.

Customs opens "carton 57" and compares it with this page: the breakdown says which SKU,
how many pieces and what weight each numbered carton holds.
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from bot.i18n import N_
from handlers.orders.pdf_kit import Pen, both, consignment, table
from handlers.orders.pdf_numbers import PackRow, cartons_text, kg, packing_rows, shipment
from storage.models import Order


def packing_body(pen: Pen, order: Order) -> list[object]:
    rows = packing_rows(order)
    return [
        _lines(pen, rows),
        Spacer(1, 4 * mm),
        pen.para(both(N_("Carton breakdown")), bold=True, size=10),
        Spacer(1, 2 * mm),
        _breakdown(pen, rows),
        Spacer(1, 4 * mm),
        consignment(pen, shipment(order, rows), 230 * mm),
    ]


def _lines(pen: Pen, rows: list[PackRow]) -> object:
    p = pen.para
    head = [
        both(N_("C/No.")),
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
    data = [[p(h, bold=True) for h in head]]
    for r in rows:
        data.append(
            [
                p(r.carton_numbers),
                p(r.sku),
                p(r.description + " (" + both(N_("spare units")) + ")" if r.spare else r.description),
                p(r.packaging),
                p(f"{r.pieces:,}"),
                p(f"{r.cartons:,}"),
                p(r.carton_cm),
                p(kg(r.net_kg)),
                p(kg(r.gross_kg)),
                p(f"{r.cbm:.3f}"),
            ]
        )
    data.append(
        [
            p(both(N_("TOTAL")), bold=True),
            p(""),
            p(""),
            p(""),
            p(f"{sum(r.pieces for r in rows):,}", bold=True),
            p(f"{sum(r.cartons for r in rows):,}", bold=True),
            p(""),
            p(kg(sum(r.net_kg for r in rows)), bold=True),
            p(kg(sum(r.gross_kg for r in rows)), bold=True),
            p(f"{sum(r.cbm for r in rows):.3f}", bold=True),
        ]
    )
    widths = [24 * mm, 20 * mm, 60 * mm, 48 * mm, 16 * mm, 18 * mm, 22 * mm, 22 * mm, 22 * mm, 16 * mm]
    return table(pen, data, widths)


def _breakdown(pen: Pen, rows: list[PackRow]) -> object:
    p = pen.para
    head = [
        both(N_("C/No.")),
        "SKU",
        both(N_("Cartons")),
        both(N_("Pcs per carton")),
        both(N_("N.W. per carton kg")),
        both(N_("G.W. per carton kg")),
        both(N_("Carton cm")),
    ]
    data = [[p(h, bold=True) for h in head]]
    for r in rows:
        for g in r.groups:
            data.append(
                [
                    p(cartons_text(g.first, g.last)),
                    p(r.sku + " (" + both(N_("spare")) + ")" if r.spare else r.sku),
                    p(f"{g.count:,}"),
                    p(f"{g.pieces_each:,}"),
                    p(kg(g.net_each)),
                    p(kg(g.gross_each)),
                    p(r.carton_cm),
                ]
            )
    widths = [26 * mm, 40 * mm, 24 * mm, 38 * mm, 44 * mm, 44 * mm, 36 * mm]
    return table(pen, data, widths)
