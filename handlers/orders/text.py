"""What clients read about an order, in English and Chinese: stage names, status answers, notices.

Shared by the status handler and the order writer (API, CSV import) so a stage is called the
same thing in an answer and in a proactive notice.
"""

from __future__ import annotations

from storage.models import Order, OrderEvent
from storage.repos.orders import spare_units

STAGES: dict[str, tuple[str, str]] = {
    "confirmed": ("Confirmed", "已确认"),
    "in_production": ("In production", "生产中"),
    "qc": ("Quality check", "质检中"),
    "packed": ("Packed, ready to ship", "已包装，待发货"),
    "shipped": ("Shipped", "已发货"),
    "delivered": ("Delivered", "已送达"),
    "on_hold": ("On hold", "暂停"),
    "cancelled": ("Cancelled", "已取消"),
}


def tr(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def stage(lang: str, status: str | None) -> str:
    en, zh = STAGES.get(status or "", (status or "", status or ""))
    return tr(lang, en, zh)


def event_line(lang: str, event: OrderEvent) -> str:
    day = event.at.strftime("%Y-%m-%d")
    if event.kind == "status":
        return f"{day} {stage(lang, event.to_value)}"
    if event.kind == "eta":
        return f"{day} " + tr(lang, f"ETA {event.to_value or '-'}", f"预计到达 {event.to_value or '-'}")
    if event.kind == "shipment":
        return f"{day} " + tr(lang, f"Shipment {event.to_value or '-'}", f"物流 {event.to_value or '-'}")
    return f"{day} {event.note or event.to_value or ''}".rstrip()


def status_answer(lang: str, order: Order) -> str:
    """Stage, ETA, carrier and tracking, quantities with spare units, and the timeline."""
    lines = [
        tr(
            lang,
            f"Order {order.number}: {stage(lang, order.status)}",
            f"订单 {order.number}：{stage(lang, order.status)}",
        )
    ]
    if order.pi_number:
        lines.append(f"PI: {order.pi_number}" + (f" · {order.incoterm}" if order.incoterm else ""))
    lines.append(
        tr(lang, "ETA: ", "预计到达：")
        + (order.eta.isoformat() if order.eta else tr(lang, "to be confirmed", "待确认"))
    )
    if order.carrier or order.tracking:
        lines.append(
            tr(
                lang,
                f"Carrier: {order.carrier or '-'} · Tracking: {order.tracking or '-'}",
                f"承运商：{order.carrier or '-'} · 运单号：{order.tracking or '-'}",
            )
        )
    lines.append(tr(lang, "Items:", "产品："))
    pct = f"{order.spare_ratio * 100:g}%"
    for line in order.lines:
        spare = spare_units(line.quantity, order.spare_ratio)
        extra = tr(lang, f" + {spare} spare ({pct})", f" + 备品 {spare} 件（{pct}）") if spare else ""
        lines.append(
            tr(
                lang,
                f"- {line.sku} {line.description}: {line.quantity} pcs{extra}",
                f"- {line.sku} {line.description}：{line.quantity} 件{extra}",
            )
        )
    if order.events:
        lines.append(tr(lang, "Timeline:", "进度："))
        lines += [f"- {event_line(lang, e)}" for e in order.events[-8:]]
    return "\n".join(lines)


def shipped_notice(lang: str, order: Order) -> str:
    eta = order.eta.isoformat() if order.eta else tr(lang, "to be confirmed", "待确认")
    return tr(
        lang,
        f"Your order {order.number} has shipped. Carrier: {order.carrier}, tracking: {order.tracking}. "
        f"ETA: {eta}.",
        f"您的订单 {order.number} 已发货。承运商：{order.carrier}，"
        f"运单号：{order.tracking}，预计到达：{eta}。",
    )


def delivered_notice(lang: str, order: Order) -> str:
    return tr(
        lang,
        f"Your order {order.number} has been delivered. If anything is wrong with the goods, "
        "send us photos and we will look into it.",
        f"您的订单 {order.number} 已送达。如货物有任何问题，请发送照片给我们，我们会尽快处理。",
    )


def eta_notice(lang: str, order: Order, old: str, new: str) -> str:
    return tr(
        lang,
        f"The ETA of your order {order.number} has moved from {old} to {new}.",
        f"您的订单 {order.number} 预计到达时间已由 {old} 调整为 {new}。",
    )
