"""Writing an order: validate everything first, then change rows, events and outbox together.

The API (`PUT /api/orders/{number}`), the CSV import and the demo seed all come through
here, so the rules are the same everywhere:
- every value is checked before anything is written; the first bad one raises
  `OrderInvalid` naming its field, and the caller's transaction rolls back;
- every status change, ETA change and shipment detail becomes an order event;
- a change to `shipped` (carrier and tracking are then required), to `delivered`, or an
  ETA that moves is queued as a notice to every contact of the client, on their channel,
  in the client's language, idempotent per (event, contact) — in the same transaction;
- a new order whose SKUs had claims (this client's or anyone's) or prevention notes
  before sends a brief to staff with the roles "sales" and "qc".
Lines are matched by SKU on update, so counters the claims side keeps on a line
(replaced_qty, spares_used) survive a re-import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.ids import order_key
from bot.messages import Channel, OutboundMessage
from handlers.orders import text as order_text
from handlers.orders.repeat_brief import send_repeat_brief
from storage.limits import INT32_MAX
from storage.models import Client, Order, OrderEvent, OrderLine, utcnow
from storage.repos import clients, conversations, orders, outbox

HS_CODE = re.compile(r"^\d{4}(?:\.?\d{2}){0,3}$")
DOCUMENT_FIELDS = {"port_of_loading": 64, "port_of_discharge": 64, "payment_terms": 128}  # optional
ORDER_FIELDS = (
    *("status", "pi_number", "incoterm", "eta", "carrier", "tracking", "spare_ratio"),
    *DOCUMENT_FIELDS,
)
TEXT_LIMITS = {"pi_number": 64, "incoterm": 64, "carrier": 64, "tracking": 128, **DOCUMENT_FIELDS}


class OrderInvalid(Exception):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.field = field
        self.error = error


@dataclass
class LineInput:
    sku: str
    quantity: int
    values: dict[str, Any]


@dataclass
class OrderInput:
    client: str | None
    fields: dict[str, Any]  # only the keys that were given; None clears
    lines: list[LineInput] | None  # None: keep the current lines


@dataclass
class WriteResult:
    order: Order
    created: bool
    events: list[OrderEvent] = field(default_factory=list)
    notices: int = 0
    briefs: int = 0


# ---- validation -----------------------------------------------------------------------------------


def _number(value: Any, name: str, *, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OrderInvalid(name, "must be a number")
    if value < minimum:
        raise OrderInvalid(name, f"must not be negative (got {value})")
    return float(value)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderInvalid(name, "must be a whole number")
    if value < 0:
        raise OrderInvalid(name, f"must not be negative (got {value})")
    if value > INT32_MAX:  # the column is a 32-bit INTEGER
        raise OrderInvalid(name, f"must be at most {INT32_MAX}")
    return value


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OrderInvalid(name, "must be a string")
    if len(value) > limit:
        raise OrderInvalid(name, f"must be at most {limit} characters")
    return value.strip()


def check_spare_ratio(value: Any) -> float:
    ratio = _number(value, "spare_ratio")
    exact = Decimal(str(ratio))
    if exact != 0 and not Decimal("0.02") <= exact <= Decimal("0.05"):
        raise OrderInvalid("spare_ratio", f"must be 0 or between 0.02 and 0.05 (2–5%), got {value}")
    return ratio


def _line(data: Any, at: str) -> LineInput:
    if not isinstance(data, dict):
        raise OrderInvalid(at, "must be an object")
    sku = data.get("sku")
    if not isinstance(sku, str) or not sku.strip() or len(sku) > 64:
        raise OrderInvalid(f"{at}.sku", "is required (a string of at most 64 characters)")
    if "quantity" not in data:
        raise OrderInvalid(f"{at}.quantity", "is required")
    quantity = _whole(data["quantity"], f"{at}.quantity")
    values: dict[str, Any] = {}
    values["description"] = _text(data.get("description"), f"{at}.description", 2000) or ""
    values["material"] = _text(data.get("material"), f"{at}.material", 2000)
    values["packaging"] = _text(data.get("packaging"), f"{at}.packaging", 2000)
    price = data.get("unit_price")
    if price is None or price == "":
        values["unit_price"] = None
    else:
        if _number(price, f"{at}.unit_price") >= 1e10:  # NUMERIC(14, 4)
            raise OrderInvalid(f"{at}.unit_price", "must be less than 10,000,000,000")
        try:
            values["unit_price"] = Decimal(str(price))
        except InvalidOperation:  # pragma: no cover - a float always converts
            raise OrderInvalid(f"{at}.unit_price", "must be a number") from None
    currency = _text(data.get("currency"), f"{at}.currency", 3)
    if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise OrderInvalid(f"{at}.currency", "must be a three-letter code such as USD")
    values["currency"] = currency.upper() if currency else None
    hs = data.get("hs_code")
    if hs is not None and hs != "":
        if not isinstance(hs, str) or not HS_CODE.match(hs.strip()):
            raise OrderInvalid(f"{at}.hs_code", f"must look like 4202.92 (4–10 digits), got {hs!r}")
        values["hs_code"] = hs.strip()
    else:
        values["hs_code"] = None
    origin = _text(data.get("origin"), f"{at}.origin", 2)
    if origin is not None and not re.fullmatch(r"[A-Za-z]{2}", origin):
        raise OrderInvalid(f"{at}.origin", "must be a two-letter country code such as CN")
    values["origin"] = origin.upper() if origin else None
    cartons = data.get("cartons")
    values["cartons"] = None if cartons in (None, "") else _whole(cartons, f"{at}.cartons")
    dims = data.get("carton_cm")
    if dims in (None, ""):
        values["carton_cm"] = None
    else:
        if not isinstance(dims, list) or len(dims) != 3:
            raise OrderInvalid(f"{at}.carton_cm", "must be three numbers [length, width, height]")
        values["carton_cm"] = [_number(d, f"{at}.carton_cm") for d in dims]
    for name in ("gross_kg", "net_kg"):
        raw = data.get(name)
        values[name] = None if raw in (None, "") else _number(raw, f"{at}.{name}")
    if (
        values["gross_kg"] is not None
        and values["net_kg"] is not None
        and values["net_kg"] > values["gross_kg"]
    ):
        raise OrderInvalid(f"{at}.net_kg", "must not exceed gross_kg")
    return LineInput(sku=sku.strip(), quantity=quantity, values=values)


def parse_order(data: Any) -> OrderInput:
    """Check the shape and every value of an order payload (the CONTRACT's order format)."""
    if not isinstance(data, dict):
        raise OrderInvalid("body", "must be a JSON object")
    client = data.get("client")
    if client is not None and (not isinstance(client, str) or not client.strip()):
        raise OrderInvalid("client", "must be a client key")
    fields: dict[str, Any] = {}
    if "status" in data:
        if data["status"] not in orders.STATUSES:
            raise OrderInvalid(
                "status", f"must be one of {', '.join(orders.STATUSES)}, got {data['status']!r}"
            )
        fields["status"] = data["status"]
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            fields[name] = _text(data[name], name, limit)
    if "eta" in data:
        eta = data["eta"]
        if eta in (None, ""):
            fields["eta"] = None
        else:
            try:
                fields["eta"] = date.fromisoformat(str(eta))
            except ValueError:
                raise OrderInvalid("eta", f"must be a date YYYY-MM-DD, got {eta!r}") from None
    if "spare_ratio" in data:
        fields["spare_ratio"] = check_spare_ratio(data["spare_ratio"] if data["spare_ratio"] != "" else 0)
    lines: list[LineInput] | None = None
    if "lines" in data:
        if not isinstance(data["lines"], list) or not data["lines"]:
            raise OrderInvalid("lines", "must be a non-empty list")
        lines = [_line(item, f"lines[{i}]") for i, item in enumerate(data["lines"])]
        seen: set[str] = set()
        for i, line in enumerate(lines):
            if line.sku.upper() in seen:
                raise OrderInvalid(f"lines[{i}].sku", f"{line.sku} appears twice")
            seen.add(line.sku.upper())
    return OrderInput(client=client.strip() if client else None, fields=fields, lines=lines)


# ---- writing ---------------------------------------------------------------------------------------


async def apply_order(session: AsyncSession, number: str, inp: OrderInput, *, by: str = "api") -> WriteResult:
    """Create or update order `number`; raises OrderInvalid before writing anything."""
    number = (number or "").strip()
    key, order, client, merged = await _checked(session, number, inp)

    # -- nothing has been written up to here --
    created = order is None
    order, events, old = await _write_order(session, order, number, key, client, merged, by)
    events += await _detail_events(session, order, old, merged, by)
    if inp.lines is not None:
        _replace_lines(order, inp.lines)
    order.updated_at = utcnow()
    await session.flush()
    await session.refresh(order, ["lines", "events"])

    result = WriteResult(order=order, created=created, events=events)
    result.notices = await _notify_client(session, client, order, events, old)
    if created:
        result.briefs = await send_repeat_brief(session, client, order)
    return result


async def _checked(
    session: AsyncSession, number: str, inp: OrderInput
) -> tuple[str, Order | None, Client, dict[str, Any]]:
    """Every refusal comes from here, before a row changes: the key, the order, its client, the fields."""
    key = order_key(number)
    if not key or len(number) > 64:
        raise OrderInvalid("number", "must be an order number such as PO-2026-0117")
    order = await orders.by_key(session, key)
    if order is None:
        if inp.client is None:
            raise OrderInvalid("client", "is required for a new order")
        if inp.lines is None:
            raise OrderInvalid("lines", "a new order needs at least one line")
    client: Client | None
    if inp.client is not None:
        client = await clients.get_client(session, inp.client)
        if client is None:
            raise OrderInvalid("client", f"unknown client {inp.client!r}")
    else:
        client = await clients.get_client_by_id(session, order.client_id)  # type: ignore[union-attr]
    assert client is not None
    current = (
        {name: getattr(order, name) for name in ORDER_FIELDS}
        if order
        else {"status": "confirmed", "spare_ratio": 0.0}
    )
    merged = {**current, **inp.fields}
    if merged.get("status") == "shipped":
        for name in ("carrier", "tracking"):
            if not merged.get(name):
                raise OrderInvalid(name, "is required when the order is shipped")
    return key, order, client, merged


async def _write_order(
    session: AsyncSession,
    order: Order | None,
    number: str,
    key: str,
    client: Client,
    merged: dict[str, Any],
    by: str,
) -> tuple[Order, list[OrderEvent], dict[str, Any]]:
    """Create the order or record its status change, then set its fields; returns the old values."""
    old: dict[str, Any]
    events: list[OrderEvent] = []
    if order is None:
        order = Order(number=number, number_key=key, client_id=client.id, status=merged["status"])
        session.add(order)
        await session.flush()
        await session.refresh(order, ["lines", "events"])
        events.append(
            await orders.add_event(session, order, "status", from_value=None, to_value=order.status, by=by)
        )
        old = {"eta": None, "carrier": None, "tracking": None}
    else:
        old = {name: getattr(order, name) for name in ORDER_FIELDS}
        if merged["status"] != order.status:
            events.append(
                await orders.add_event(
                    session, order, "status", from_value=order.status, to_value=merged["status"], by=by
                )
            )
    order.client_id = client.id
    order.number_key = key
    for name in ORDER_FIELDS:
        if name in merged:
            setattr(order, name, merged[name])
    return order, events, old


async def _detail_events(
    session: AsyncSession, order: Order, old: dict[str, Any], merged: dict[str, Any], by: str
) -> list[OrderEvent]:
    """An ETA move and a new carrier or tracking number are events too: the client may be told."""
    events: list[OrderEvent] = []
    if merged.get("eta") != old.get("eta"):
        events.append(
            await orders.add_event(
                session,
                order,
                "eta",
                from_value=old["eta"].isoformat() if old.get("eta") else None,
                to_value=merged["eta"].isoformat() if merged.get("eta") else None,
                by=by,
            )
        )
    ship_old = f"{old.get('carrier') or ''} {old.get('tracking') or ''}".strip()
    ship_new = f"{merged.get('carrier') or ''} {merged.get('tracking') or ''}".strip()
    if ship_new != ship_old:
        events.append(
            await orders.add_event(
                session, order, "shipment", from_value=ship_old or None, to_value=ship_new or None, by=by
            )
        )
    return events


def _replace_lines(order: Order, lines: list[LineInput]) -> None:
    existing = {line.sku.upper(): line for line in order.lines}
    keep: list[OrderLine] = []
    for given in lines:
        row = existing.get(given.sku.upper())
        if row is None:
            row = OrderLine(sku=given.sku, quantity=given.quantity)
        row.sku = given.sku
        row.quantity = given.quantity
        for name, value in given.values.items():
            setattr(row, name, value)
        keep.append(row)
    order.lines[:] = keep


async def _notify_client(
    session: AsyncSession, client: Client, order: Order, events: list[OrderEvent], old: dict[str, Any]
) -> int:
    """Queue the notices a client should get without asking: shipped, delivered, ETA moved."""
    tr = Translator.for_language(client.language)
    notices: list[tuple[OrderEvent, str]] = []
    shipped = False
    for event in events:
        if event.kind == "status" and event.to_value == "shipped" and event.from_value is not None:
            notices.append((event, order_text.shipped_notice(tr, order)))
            shipped = True
        elif event.kind == "status" and event.to_value == "delivered" and event.from_value is not None:
            notices.append((event, order_text.delivered_notice(tr, order)))
    for event in events:
        if event.kind == "eta" and event.from_value and event.to_value and not shipped:
            notices.append((event, order_text.eta_notice(tr, order, event.from_value, event.to_value)))
    if not notices:
        return 0
    contacts = await clients.contacts_of_client(session, client.id)
    count = 0
    for event, text in notices:
        for contact in contacts:
            try:
                channel = Channel(contact.channel)
            except ValueError:
                continue
            extra = {"subject": f"{order.number}: {order_text.stage(tr, order.status)}"}
            # kept in the contact's conversation, so staff see it in the history and replies thread on
            conv = await conversations.open_conversation(session, contact)
            await outbox.enqueue(
                session,
                OutboundMessage(
                    channel=channel,
                    channel_user_id=contact.channel_user_id,
                    text=text,
                    idempotency_key=f"order-event:{event.id}:{contact.id}",
                    extra=extra,  # the subject, where the channel has one (email)
                ),
                conversation_id=conv.id,
                kind="notice",
            )
            count += 1
    return count
