"""Tables. Later features add theirs by new Alembic migrations, never by editing old ones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in and out, stored as UTC: SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    email_domains: Mapped[list[Any]] = mapped_column(default=list)
    address: Mapped[str | None] = mapped_column(Text)  # the buyer's, printed on customs documents
    consignee: Mapped[str | None] = mapped_column(Text)  # name and address; empty: the buyer
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contacts: Mapped[list[Contact]] = relationship(back_populates="client")


class Contact(Base):
    """A sender identity on one channel; linked to a client once verified."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id", name="uq_contacts_channel_user"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client | None] = relationship(back_populates="contacts")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_last_message", "last_message_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="bot")  # bot, with_staff, closed
    priority: Mapped[str] = mapped_column(String(16), default="normal")  # normal, urgent
    language: Mapped[str | None] = mapped_column(String(8))
    dialog: Mapped[str | None] = mapped_column(String(64))  # the handler that owns the conversation
    dialog_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dialog_expires_at: Mapped[datetime | None] = mapped_column()
    assigned_staff: Mapped[str | None] = mapped_column(String(64))  # staff key while state == with_staff
    staff_since: Mapped[datetime | None] = mapped_column()
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()


class Message(Base):
    """Inbound and outbound messages. Inbound rows are unique per (channel, provider id)."""

    __tablename__ = "messages"
    __table_args__ = (
        # Provider retries are recognised by this index; outbound ids are only unique per chat.
        Index(
            "uq_messages_inbound_provider_id",
            "channel",
            "provider_message_id",
            unique=True,
            sqlite_where=sql_text("direction = 'in'"),
            postgresql_where=sql_text("direction = 'in'"),
        ),
        Index("ix_messages_provider_id", "channel", "channel_user_id", "provider_message_id"),
        Index("ix_messages_unhandled", "direction", "handled_at"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    channel_user_id: Mapped[str] = mapped_column(String(255))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the normalised message as JSON
    delivery: Mapped[str | None] = mapped_column(
        String(16)
    )  # outbound: queued, sent, delivered, read, failed
    handled_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="message", order_by="AttachmentRow.id"
    )


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(128))
    provider_ref: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    stored_path: Mapped[str | None] = mapped_column(Text)
    phash: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(64))
    # What Tesseract read on a photo ({"text", "orders", "skus", "cartons"}): a carton label names its order.
    ocr: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments")


class OutboxRow(Base):
    """A message waiting to be delivered; written in the transaction that decided to send it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    cause_message_id: Mapped[int | None] = mapped_column(BigId, index=True)  # the inbound message behind it
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="reply")  # reply, alert, notice
    payload: Mapped[dict[str, Any]] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))  # "bot", "staff:li", "api", "client:telegram:123"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# ---- Orders (issue: orders, documents, repeat-order memory) ---------------------------------------


class Order(Base):
    __tablename__ = "orders"

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


# ---- Claims (issue: defect claims from photos) ------------------------------------------------------


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_state", "state"), Index("ix_claims_sku", "sku"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # CLM-YYYY-NNNNNN
    state: Mapped[str] = mapped_column(String(32), default="submitted")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    order_number: Mapped[str | None] = mapped_column(String(64))  # as the client gave it, even if unknown
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id", ondelete="SET NULL"))
    sku: Mapped[str | None] = mapped_column(String(64))
    quantity_affected: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(32))  # stitching, zipper, strap, fabric, ...
    unused: Mapped[bool | None] = mapped_column(Boolean)
    eligibility: Mapped[str] = mapped_column(String(32), default="eligible")  # eligible, excluded:<why>
    responsibility: Mapped[str | None] = mapped_column(String(16))  # factory, client, carrier
    resolution: Mapped[str | None] = mapped_column(String(16))  # replacement, follow_up, rejected
    replacement_qty: Mapped[int | None] = mapped_column(Integer)
    spares_used: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    events: Mapped[list[ClaimEvent]] = relationship(order_by="ClaimEvent.id", cascade="all, delete-orphan")
    evidence: Mapped[list[ClaimEvidence]] = relationship(
        order_by="ClaimEvidence.id", cascade="all, delete-orphan"
    )


class ClaimEvent(Base):
    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(128))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class ClaimEvidence(Base):
    """A photo/video attached to a claim; the file itself is stored once, by sha256."""

    __tablename__ = "claim_evidence"
    __table_args__ = (UniqueConstraint("claim_id", "sha256", name="uq_claim_evidence_file"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(128))
    phash: Mapped[str | None] = mapped_column(String(32), index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    ocr_text: Mapped[str | None] = mapped_column(Text)  # what was read on the photo (None: not read)
    ocr: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"orders", "skus", "cartons", "order"}


class Counter(Base):
    """Named sequences (claim numbers per year), incremented inside the caller's transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# ---- Staff and escalations (issue: urgent routing, on-call rota) -------------------------------------


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


# ---- Console sign-in (issue: trust) --------------------------------------------------------------------


class ConsoleSession(Base):
    """A signed-in console session. Only a SHA-256 of the cookie's id is kept: a copy of this
    table opens no session, and deleting the row is what logging out means."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_key: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the forms' token, bound to this session only
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Sign-in attempts per account (`account:li`) and per client address (`ip:203.0.113.5`).

    Counted by one upsert before the password is checked, so concurrent guesses cannot all
    slip under the limit; shared by every process on the database.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None] = mapped_column()


class WeChatReplay(Base):
    """A signed WeChat push already accepted: the same (timestamp, nonce, signature) again is a replay.

    In the database rather than in memory so the refusal holds across every process sharing
    it; the primary key is the unique key the insert conflicts on. Rows older than the clock
    window are pruned, since the window alone refuses those timestamps.
    """

    __tablename__ = "wechat_replays"

    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)


# ---- Floods (issue: trust, per-contact flood limit) -------------------------------------------------


class ContactFlood(Base):
    """A contact's current one-minute window: when it began and how many messages it has seen.

    One row per contact, updated by a single upsert per handled message (bot/flood.py), so the
    limit holds however many processes share the database.
    """

    __tablename__ = "contact_floods"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    window_start: Mapped[datetime] = mapped_column()
    received: Mapped[int] = mapped_column(Integer, default=0)


class ClosureNotice(Base):
    """A conversation was told the factory is closed: once per conversation and closure."""

    __tablename__ = "closure_notices"
    __table_args__ = (UniqueConstraint("conversation_id", "closure", name="uq_closure_notice_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    closure: Mapped[str] = mapped_column(String(160))  # the closure's start date and name
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
