"""What clients read about an order, in their language: stage names, status answers, notices.

Shared by the status handler and the order writer (API, CSV import) so a stage is called the
same thing in an answer and in a proactive notice.
"""

from __future__ import annotations

from bot.i18n import N_, Translator
from storage.models import Order, OrderEvent
from storage.repos.orders import spare_units

STAGES: dict[str, str] = {
    "confirmed": N_("Confirmed"),
    "in_production": N_("In production"),
    "qc": N_("Quality check"),
    "packed": N_("Packed, ready to ship"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "on_hold": N_("On hold"),
    "cancelled": N_("Cancelled"),
}


def stage(tr: Translator, status: str | None) -> str:
    label = STAGES.get(status or "")
    return tr._(label) if label else status or ""


def event_line(tr: Translator, event: OrderEvent) -> str:
    day = event.at.strftime("%Y-%m-%d")
    if event.kind == "status":
        return f"{day} {stage(tr, event.to_value)}"
    if event.kind == "eta":
        return f"{day} " + tr._("ETA {eta}", eta=event.to_value or "-")
    if event.kind == "shipment":
        return f"{day} " + tr._("Shipment {tracking}", tracking=event.to_value or "-")
    return f"{day} {event.note or event.to_value or ''}".rstrip()


def status_answer(tr: Translator, order: Order) -> str:
    """Stage, ETA, carrier and tracking, quantities with spare units, and the timeline."""
    lines = [tr._("Order {order}: {stage}", order=order.number, stage=stage(tr, order.status))]
    if order.pi_number:
        lines.append(f"PI: {order.pi_number}" + (f" · {order.incoterm}" if order.incoterm else ""))
    lines.append(tr._("ETA: {eta}", eta=order.eta.isoformat() if order.eta else tr._("to be confirmed")))
    if order.carrier or order.tracking:
        lines.append(
            tr._(
                "Carrier: {carrier} · Tracking: {tracking}",
                carrier=order.carrier or "-",
                tracking=order.tracking or "-",
            )
        )
    lines.append(tr._("Items:"))
    pct = f"{order.spare_ratio * 100:g}%"
    for line in order.lines:
        spare = spare_units(line.quantity, order.spare_ratio)
        values = {"sku": line.sku, "description": line.description, "qty": line.quantity}
        lines.append(
            tr._("- {sku} {description}: {qty} pcs + {spare} spare ({pct})", spare=spare, pct=pct, **values)
            if spare
            else tr._("- {sku} {description}: {qty} pcs", **values)
        )
    if order.events:
        lines.append(tr._("Timeline:"))
        lines += [f"- {event_line(tr, e)}" for e in order.events[-8:]]
    return "\n".join(lines)


def shipped_notice(tr: Translator, order: Order) -> str:
    return tr._(
        "Your order {order} has shipped. Carrier: {carrier}, tracking: {tracking}. ETA: {eta}.",
        order=order.number,
        carrier=order.carrier,
        tracking=order.tracking,
        eta=order.eta.isoformat() if order.eta else tr._("to be confirmed"),
    )


def delivered_notice(tr: Translator, order: Order) -> str:
    return tr._(
        "Your order {order} has been delivered. If anything is wrong with the goods, "
        "send us photos and we will look into it.",
        order=order.number,
    )


def eta_notice(tr: Translator, order: Order, old: str, new: str) -> str:
    return tr._(
        "The ETA of your order {order} has moved from {old} to {new}.", order=order.number, old=old, new=new
    )
