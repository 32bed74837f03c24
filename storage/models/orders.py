"""Orders, their lines and events, SKU notes and feedback (issue: orders, documents, repeat-order memory)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId, utcnow


class Order(Base):
    __tablename__ = "orders"
    # A client's order question: one probe however many orders the client has (0023_perf_order_lookup).
    __table_args__ = (Index("ix_orders_client_number_key", "client_id", "number_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # the client's/ERP's number, e.g. PO-2026-0117
    number_key: Mapped[str] = mapped_column(String(64), index=True)  # bot.ids.order_key
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    pi_number: Mapped[str | None] = mapped_column(String(64))
    incoterm: Mapped[str | None] = mapped_column(String(64))
    eta: Mapped[date | None] = mapped_column(Date)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking: Mapped[str | None] = mapped_column(String(128))
    spare_ratio: Mapped[float] = mapped_column(Float, default=0.0)
    port_of_loading: Mapped[str | None] = mapped_column(String(64))
    port_of_discharge: Mapped[str | None] = mapped_column(String(64))
    payment_terms: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_sku", "sku"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    material: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    currency: Mapped[str | None] = mapped_column(String(8))
    hs_code: Mapped[str | None] = mapped_column(String(16))
    origin: Mapped[str | None] = mapped_column(String(8))
    packaging: Mapped[str | None] = mapped_column(Text)
    cartons: Mapped[int | None] = mapped_column(Integer)
    carton_cm: Mapped[list[Any] | None] = mapped_column(JSON)
    gross_kg: Mapped[float | None] = mapped_column(Float)
    net_kg: Mapped[float | None] = mapped_column(Float)
    replaced_qty: Mapped[int] = mapped_column(Integer, default=0)  # replacements granted by claims
    spares_used: Mapped[int] = mapped_column(Integer, default=0)  # spare units used up by replacements

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(Base):
    """Every status change, ETA move or shipment detail, with its time; pushed to the client if it matters."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # status, eta, shipment, note
    from_value: Mapped[str | None] = mapped_column(String(128))
    to_value: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(128), default="api")


class SkuNote(Base):
    """Prevention notes per SKU, shown to staff when a repeat order arrives."""

    __tablename__ = "sku_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    note: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    sku: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
