"""Console sessions, sign-in throttle, WeChat replays, floods and closure notices (issue: trust)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId, utcnow

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
