"""Staff, escalations, alerts and rota overrides (issue: urgent routing, on-call rota)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId, utcnow


class Staff(Base):
    """Staff from the rota file (synchronised at start-up), plus their console password."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), index=True)
    whatsapp: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    wechat: Mapped[str | None] = mapped_column(String(128), index=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by `demo seed`: a password published in the README, refused when server.sandbox = false.
    demo_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")  # alerts, answers


class Escalation(Base):
    """An open request for a person; the database is the source of truth for its timer."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_due", "state", "next_due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reason: Mapped[str] = mapped_column(
        String(32)
    )  # urgent, claim, handoff, faq, repeat, delivery_failed, ...
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    policy: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open, acknowledged, resolved
    level: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_due_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column()
    final_alert_sent: Mapped[bool] = mapped_column(Boolean, default=False)

    alerts: Mapped[list[Alert]] = relationship(order_by="Alert.id", cascade="all, delete-orphan")


class Alert(Base):
    """One page to one staff member; the provider id lets a reply to the alert find its escalation."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("escalation_id", "staff_key", "level", "round", name="uq_alert_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    staff_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))


class RotaOverride(Base):
    """An on-call swap made from a phone (`/override anna 4`); the rota file's overrides stay in the file."""

    __tablename__ = "rota_overrides"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rotation: Mapped[str] = mapped_column(String(64))
    staff_key: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column(index=True)
    by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
