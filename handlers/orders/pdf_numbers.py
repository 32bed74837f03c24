"""The figures the documents print, computed from the order alone (no layout here).

Conventions (the order format has no other unit for them):
- `gross_kg` / `net_kg` and `carton_cm` are per export carton; a line's `cartons` hold
  its bulk `quantity`, so units per carton = quantity / cartons.
- Spare units (ceil(quantity × spare_ratio), agreed in the PI) are their own lines:
  on the invoice at no charge; on the packing list in ceil(spares / units per carton)
  extra cartons, net weight pro rata per unit, gross = net + that many cartons' tare.
- Cartons are numbered 1…N through the order, line by line, each line's spare cartons
  right after its bulk ones: the numbers a broker finds on the shipping marks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from storage.models import Order, OrderLine
from storage.repos.orders import spare_units

ORIGIN_NAMES = {"CN": "CHINA", "VN": "VIETNAM", "KH": "CAMBODIA", "BD": "BANGLADESH", "IN": "INDIA"}


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def kg(value: float) -> str:
    return f"{value:,.2f}"


def cartons_text(first: int, last: int) -> str:
    if last < first:
        return "-"
    return str(first) if first == last else f"{first}-{last}"


def dims_text(dims: list[float] | None) -> str:
    return "×".join(f"{d:g}" for d in dims) if dims else "-"


@dataclass(frozen=True)
class CartonGroup:
    """Cartons in a row that hold the same: one line of the per-carton breakdown."""

    first: int
    last: int
    pieces_each: int
    net_each: float
    gross_each: float

    @property
    def count(self) -> int:
        return self.last - self.first + 1


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
    first_carton: int = 0
    last_carton: int = -1
    groups: tuple[CartonGroup, ...] = ()

    @property
    def carton_numbers(self) -> str:
        return cartons_text(self.first_carton, self.last_carton)


def _groups(first: int, pieces: int, cartons: int, net: float, gross: float) -> tuple[CartonGroup, ...]:
    """`pieces` spread over `cartons` as evenly as whole units allow, fuller cartons first."""
    if cartons <= 0:
        return ()
    each, extra = divmod(pieces, cartons)
    out: list[CartonGroup] = []
    if extra:
        out.append(CartonGroup(first, first + extra - 1, each + 1, net, gross))
    if cartons - extra:
        out.append(CartonGroup(first + extra, first + cartons - 1, each, net, gross))
    return tuple(out)


def packing_rows(order: Order) -> list[PackRow]:
    """One row per line and one per line's spare units, cartons numbered through the whole order."""
    rows: list[PackRow] = []
    next_carton = 1
    for line in order.lines:
        row = _line_row(line, next_carton)
        rows.append(row)
        next_carton = row.last_carton + 1 if row.cartons else next_carton
        spare = spare_units(line.quantity, order.spare_ratio)
        if spare:
            spare_row = _spare_row(line, spare, next_carton)
            rows.append(spare_row)
            next_carton += spare_row.cartons
    return rows


def _measures(line: OrderLine) -> tuple[list[float], float, float, float]:
    dims: list[float] = list(line.carton_cm or [])
    volume = (dims[0] * dims[1] * dims[2] / 1_000_000) if len(dims) == 3 else 0.0
    return dims, volume, line.net_kg or 0.0, line.gross_kg or 0.0


def _line_row(line: OrderLine, first: int) -> PackRow:
    cartons = line.cartons or 0
    dims, volume, net, gross = _measures(line)
    return PackRow(
        line.sku,
        line.description,
        line.packaging or "",
        line.quantity,
        cartons,
        dims_text(dims),
        round(cartons * net, 2),
        round(cartons * gross, 2),
        round(cartons * volume, 3),
        False,
        first,
        first + cartons - 1,
        _groups(first, line.quantity, cartons, net, gross),
    )


def _spare_row(line: OrderLine, spare: int, first: int) -> PackRow:
    cartons = line.cartons or 0
    per_carton = line.quantity / cartons if cartons else 0.0
    dims, volume, net, gross = _measures(line)
    spare_cartons = math.ceil(spare / per_carton) if per_carton else 0
    spare_net = round(spare * net / per_carton, 2) if per_carton else 0.0
    spare_gross = round(spare_net + spare_cartons * (gross - net), 2)
    groups = tuple(
        CartonGroup(
            g.first,
            g.last,
            g.pieces_each,
            round(g.pieces_each * net / per_carton, 2),
            round(g.pieces_each * net / per_carton + gross - net, 2),
        )
        for g in _groups(first, spare, spare_cartons, 0.0, 0.0)
    )
    return PackRow(
        line.sku,
        line.description,
        line.packaging or "",
        spare,
        spare_cartons,
        dims_text(dims),
        spare_net,
        spare_gross,
        round(spare_cartons * volume, 3),
        True,
        first,
        first + spare_cartons - 1,
        groups,
    )


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


@dataclass(frozen=True)
class Shipment:
    """What the invoice and the packing list both state about the whole consignment."""

    packages: int
    net_kg: float
    gross_kg: float
    cbm: float
    marks: str


def shipment(order: Order, rows: list[PackRow] | None = None) -> Shipment:
    rows = packing_rows(order) if rows is None else rows
    packages = sum(r.cartons for r in rows)
    origins = sorted({line.origin.upper() for line in order.lines if line.origin})
    made_in = (
        f"MADE IN {ORIGIN_NAMES.get(origins[0], origins[0])}"
        if len(origins) == 1
        else ("ORIGIN: " + ", ".join(origins) if origins else "")
    )
    marks = [order.number, f"C/NO. 1-{packages}" if packages else "", made_in]
    return Shipment(
        packages=packages,
        net_kg=round(sum(r.net_kg for r in rows), 2),
        gross_kg=round(sum(r.gross_kg for r in rows), 2),
        cbm=round(sum(r.cbm for r in rows), 3),
        marks="\n".join(m for m in marks if m) or "N/M",
    )
