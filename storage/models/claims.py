"""Defect claims, their events and evidence, and named counters (issue: defect claims from photos)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId, utcnow


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
    missing_shots: Mapped[list[Any] | None] = mapped_column(JSON)  # shots without a good photo yet
    no_more_photos_at: Mapped[datetime | None] = mapped_column()  # the client said "that's all I have"

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
    # Checked when it arrives (handlers/claims/checks.py): {"width", "height", "sharpness", "ok", "problems"}
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shot: Mapped[str | None] = mapped_column(String(40))  # which shot of the claim's list it is


class Counter(Base):
    """Named sequences (claim numbers per year), incremented inside the caller's transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
