"""`aftersales orders import FILE.csv`: the order format as CSV, one row per order line.

Columns: number, client, status, pi_number, incoterm, eta, carrier, tracking, spare_ratio,
port_of_loading, port_of_discharge, payment_terms (optional), sku, description, material,
quantity, unit_price, currency, hs_code, origin, packaging, cartons, carton_cm ("60x40x40"),
gross_kg, net_kg. Order-level columns may be repeated on
every row of an order or given once; where given twice they must agree.

Every row is checked before anything is written. An order is written only if all of its
rows are good, in its own transaction (the same code path as the API, so events, client
notices and repeat-order briefs follow); a bad row rejects its whole order and says why.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.ids import order_key
from handlers.orders.writes import ORDER_FIELDS, OrderInvalid, apply_order, parse_order
from storage.db import Database
from storage.repos import audit, clients

LINE_COLUMNS = (
    "sku", "description", "material", "quantity", "unit_price", "currency", "hs_code", "origin",
    "packaging", "cartons", "carton_cm", "gross_kg", "net_kg",
)  # fmt: skip
NUMERIC = {"quantity", "unit_price", "cartons", "gross_kg", "net_kg", "spare_ratio"}
REQUIRED = ("number", "client", "sku", "quantity")


@dataclass
class RowResult:
    row: int  # line number in the file (the header is line 1)
    number: str
    sku: str
    error: str | None = None


@dataclass
class ImportReport:
    accepted: list[RowResult] = field(default_factory=list)
    rejected: list[RowResult] = field(default_factory=list)
    orders_written: list[str] = field(default_factory=list)

    def render(self) -> str:
        out = [f"accepted row {r.row}: {r.number} {r.sku}" for r in self.accepted]
        out += [f"rejected row {r.row}: {r.number or '-'} {r.sku or '-'}: {r.error}" for r in self.rejected]
        out.append(
            f"{len(self.accepted)} row(s) accepted ({len(self.orders_written)} order(s) written), "
            f"{len(self.rejected)} row(s) rejected"
        )
        return "\n".join(out)


def _value(name: str, raw: str) -> Any:
    text = raw.strip()
    if text == "":
        return None
    if name == "carton_cm":
        parts = re.split(r"\s*[x×*,]\s*", text)
        try:
            return [float(p) for p in parts]
        except ValueError:
            return text
    if name in NUMERIC:
        try:
            number = float(text)
        except ValueError:
            return text  # the validator names the field
        return int(number) if name in ("quantity", "cartons") and number.is_integer() else number
    return text


def _order_payload(rows: list[tuple[int, dict[str, str]]]) -> tuple[dict[str, Any], dict[int, str]]:
    """The order as the API's JSON, and per-row errors found while assembling it."""
    errors: dict[int, str] = {}
    payload: dict[str, Any] = {"lines": []}
    for lineno, row in rows:
        for name in REQUIRED:
            if not (row.get(name) or "").strip():
                errors.setdefault(lineno, f"{name} is required")
        for name in ("client", *ORDER_FIELDS):
            raw = row.get(name)
            if raw is None or raw.strip() == "":
                continue
            value = _value(name, raw)
            if name in payload and payload[name] != value:
                errors.setdefault(lineno, f"{name} {raw.strip()!r} differs from an earlier row of this order")
            payload[name] = value
        payload["lines"].append({name: _value(name, row.get(name) or "") for name in LINE_COLUMNS})
    return payload, errors


def _row_error(exc: OrderInvalid, rows: list[tuple[int, dict[str, str]]]) -> tuple[int | None, str]:
    """Which row a validation error belongs to (a line error names lines[i])."""
    match = re.match(r"lines\[(\d+)\]\.(\w+)", exc.field)
    if match:
        return rows[int(match.group(1))][0], f"{match.group(2)}: {exc.error}"
    for lineno, row in rows:
        if (row.get(exc.field) or "").strip():
            return lineno, f"{exc.field}: {exc.error}"
    return None, f"{exc.field}: {exc.error}"


async def import_csv(db: Database, path: Path, *, by: str = "import") -> ImportReport:
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
        numbers: dict[str, str] = {}
        for row in reader:
            number = (row.get("number") or "").strip()
            key = order_key(number) or f"?{reader.line_num}"
            numbers.setdefault(key, number)
            groups.setdefault(key, []).append((reader.line_num, row))

    for key, rows in groups.items():
        number = numbers[key]
        payload, errors = _order_payload(rows)
        if not errors:
            try:
                inp = parse_order(payload)
            except OrderInvalid as exc:
                lineno, message = _row_error(exc, rows)
                errors[lineno if lineno is not None else rows[0][0]] = message
            else:
                async with db.read() as session:
                    if inp.client and await clients.get_client(session, inp.client) is None:
                        errors[rows[0][0]] = f"unknown client {inp.client!r}"
        if not errors:
            try:
                async with db.write() as session:
                    await apply_order(session, number, inp, by=by)
                    await audit.record(session, by, "order_imported", f"order:{number}", rows=len(rows))
            except OrderInvalid as exc:
                lineno, message = _row_error(exc, rows)
                errors[lineno if lineno is not None else rows[0][0]] = message
        for lineno, row in rows:
            result = RowResult(lineno, number, (row.get("sku") or "").strip())
            if errors:
                result.error = errors.get(lineno) or "not written: another row of this order was rejected"
                report.rejected.append(result)
            else:
                report.accepted.append(result)
        if not errors:
            report.orders_written.append(number)
    return report
