"""Clients, their contacts, conversations and messages: the bot's own tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
        # Both indexes of unhandled messages are partial: they hold only the few rows waiting, not
        # every message ever stored, and a query uses them only when it states the same condition
        # in literals (storage/repos/messages.py UNHANDLED); a bound 'in' cannot prove it.
        Index(
            "ix_messages_unhandled",
            "id",
            sqlite_where=sql_text("direction = 'in' AND handled_at IS NULL"),
            postgresql_where=sql_text("direction = 'in' AND handled_at IS NULL"),
        ),
        Index("ix_messages_conversation", "conversation_id", "id"),
        # The engine's "oldest unhandled message of this contact", under the conversation's lease.
        Index(
            "ix_messages_unhandled_contact",
            "channel",
            "channel_user_id",
            "id",
            sqlite_where=sql_text("direction = 'in' AND handled_at IS NULL"),
            postgresql_where=sql_text("direction = 'in' AND handled_at IS NULL"),
        ),
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
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        # A claim skips recipients with a send in flight: one probe into the few rows being sent.
        Index(
            "ix_outbox_in_flight",
            "channel",
            "channel_user_id",
            sqlite_where=sql_text("state = 'sending'"),
            postgresql_where=sql_text("state = 'sending'"),
        ),
    )

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
    locked_by: Mapped[str | None] = mapped_column(String(128))  # whose heartbeat extends the lease
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
