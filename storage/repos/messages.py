"""Messages and their attachments. Inbound messages are stored by storage/repos/inbound.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from bot.messages import Attachment, InboundMessage
from storage.models import AttachmentRow, Message, utcnow
from storage.prepared import Prepared

_TABLE = cast(Table, Message.__table__)
# Inbound and not yet handled, in literals: PostgreSQL's prepared statements know no parameter
# values, so only a literal condition proves the partial indexes on exactly this one usable.
UNHANDLED = and_(_TABLE.c.direction == literal_column("'in'"), _TABLE.c.handled_at.is_(None))


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return (
        await session.execute(
            select(Message).where(Message.id == message_id).options(selectinload(Message.attachments))
        )
    ).scalar_one_or_none()


async def get_by_provider_id(
    session: AsyncSession, channel: str, direction: str, provider_id: str
) -> Message | None:
    return (
        await session.execute(
            select(Message).where(
                Message.channel == channel,
                Message.direction == direction,
                Message.provider_message_id == provider_id,
            )
        )
    ).scalar_one_or_none()


async def is_outbound_id(
    session: AsyncSession, channel: str, channel_user_ids: list[str], provider_id: str
) -> bool:
    """Whether we sent a message with this provider id to one of these addresses (an indexed probe)."""
    if not channel_user_ids:
        return False
    row = await session.execute(
        select(Message.id)
        .where(
            Message.channel == channel,
            Message.channel_user_id.in_(channel_user_ids),
            Message.provider_message_id == provider_id,
            Message.direction == "out",
        )
        .limit(1)
    )
    return row.first() is not None


async def last_inbound_extra(session: AsyncSession, channel: str, channel_user_id: str) -> dict[str, Any]:
    """The provider extras of the newest message this sender sent (empty when none)."""
    row = await session.execute(
        select(Message.payload)
        .where(
            Message.channel == channel,
            Message.channel_user_id == channel_user_id,
            Message.direction == "in",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    payload = row.scalar_one_or_none() or {}
    extra = payload.get("extra") if isinstance(payload, dict) else None
    return extra if isinstance(extra, dict) else {}


async def unhandled_inbound(session: AsyncSession, limit: int = 1000) -> list[tuple[int, str, str]]:
    """(id, channel, sender) of stored inbound messages not yet handled, oldest first."""
    rows = await session.execute(
        select(Message.id, Message.channel, Message.channel_user_id)
        .where(UNHANDLED)
        .order_by(Message.id)
        .limit(limit)
    )
    return [(int(i), str(ch), str(uid)) for i, ch, uid in rows]


async def unhandled_contacts(
    session: AsyncSession, *, stored_before: datetime | None = None, limit: int = 1000
) -> list[tuple[str, str]]:
    """(channel, sender) of every contact with a stored inbound message not yet handled, oldest first;
    `stored_before`: only messages stored before then (younger ones are in their process's hands)."""
    query = select(Message.channel, Message.channel_user_id, func.min(Message.id).label("first")).where(
        UNHANDLED
    )
    if stored_before is not None:
        query = query.where(Message.created_at < stored_before)
    rows = await session.execute(
        query.group_by(Message.channel, Message.channel_user_id).order_by("first").limit(limit)
    )
    return [(str(ch), str(uid)) for ch, uid, _first in rows]


@dataclass(frozen=True, slots=True)
class Unhandled:
    """A contact's next message to handle, as the engine needs it (no ORM object to build)."""

    id: int
    provider_message_id: str | None
    text: str
    payload: dict[str, Any]
    created_at: datetime
    more: bool = False  # another of the contact's messages waits behind this one

    def inbound(self) -> InboundMessage:
        return InboundMessage.from_json(self.payload)


# Built once and run on the driver (storage/prepared.py): the worker runs these for every
# message, and SQLAlchemy's work for each execution cost more than SQLite's.
OLDEST_UNHANDLED = Prepared(
    select(
        _TABLE.c.id,
        _TABLE.c.provider_message_id,
        _TABLE.c.text,
        _TABLE.c.payload,
        _TABLE.c.created_at,
    )
    .where(
        _TABLE.c.channel == bindparam("channel"),
        _TABLE.c.channel_user_id == bindparam("user"),
        UNHANDLED,
    )
    .order_by(_TABLE.c.id)
    .limit(2)  # the second says whether more wait; attachments are in the payload: no second SELECT
)
_MARK = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("message_id"))
    .values(handled_at=bindparam("at"), conversation_id=bindparam("cid"))
)
_MARK_HANDLED = Prepared(_MARK)
_MARK_HANDLED_READ = Prepared(_MARK.values(text=bindparam("text"), payload=bindparam("payload")))


async def oldest_unhandled(
    on: AsyncSession | AsyncConnection, channel: str, channel_user_id: str
) -> Unhandled | None:
    """The next message of one contact's conversation to handle: arrival order is id order."""
    rows = await OLDEST_UNHANDLED.rows(on, {"channel": channel, "user": channel_user_id})
    if not rows:
        return None
    message_id, provider_id, text, payload, created_at = rows[0]
    return Unhandled(message_id, provider_id, text, payload, created_at, more=len(rows) > 1)


OLDEST_UNHANDLED_ID = Prepared(
    select(func.min(_TABLE.c.id)).where(
        _TABLE.c.channel == bindparam("channel"),
        _TABLE.c.channel_user_id == bindparam("user"),
        UNHANDLED,
    )
)


async def oldest_unhandled_id(session: AsyncSession, channel: str, channel_user_id: str) -> int | None:
    params = {"channel": channel, "user": channel_user_id}
    found = await OLDEST_UNHANDLED_ID.scalar(session, params)
    return int(found) if found is not None else None


async def mark_handled(
    session: AsyncSession,
    message_id: int,
    conversation_id: int | None,
    content: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """`content`: the text and payload handling read (a webhook's deferred parse, a contact
    card's names), kept with the same statement."""
    params = {"message_id": message_id, "at": utcnow(), "cid": conversation_id}
    if content is None:
        await _MARK_HANDLED.rows(session, params)
    else:
        await _MARK_HANDLED_READ.rows(session, {**params, "text": content[0], "payload": content[1]})


async def add_attachment(
    session: AsyncSession, message_id: int, att: Attachment, phash: str | None = None
) -> AttachmentRow:
    row = AttachmentRow(
        message_id=message_id,
        kind=str(att.kind),
        mime=att.mime,
        provider_ref=att.provider_ref,
        filename=att.filename,
        size=att.size,
        sha256=att.sha256,
        stored_path=att.stored_path,
        phash=phash,
        error=att.error,
    )
    session.add(row)
    await session.flush()
    return row


async def list_messages(
    session: AsyncSession, conversation_id: int, *, limit: int = 50, before_id: int | None = None
) -> tuple[list[Message], int | None]:
    """Newest first; the cursor is the id to continue below."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .options(selectinload(Message.attachments))
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = list((await session.execute(query)).scalars())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1].id
    return rows, None


async def recent_texts(session: AsyncSession, conversation_id: int, limit: int = 5) -> list[Message]:
    rows, _ = await list_messages(session, conversation_id, limit=limit)
    return list(reversed(rows))


async def set_delivery(
    session: AsyncSession, message_id: int, delivery: str, provider_id: str | None = None
) -> None:
    values: dict[str, Any] = {"delivery": delivery}
    if provider_id is not None:
        values["provider_message_id"] = provider_id
    await session.execute(update(Message).where(Message.id == message_id).values(**values))


async def count_inbound(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).where(Message.direction == "in"))).scalar_one())


def message_json(msg: Message, media_url: Any = None) -> dict[str, Any]:
    """`media_url(attachment_row)` turns a stored file into a link; None leaves links out."""
    return {
        "id": msg.id,
        "direction": msg.direction,
        "text": msg.text,
        "attachments": [
            {
                "kind": a.kind,
                "mime": a.mime,
                "filename": a.filename,
                "size": a.size,
                "sha256": a.sha256,
                "error": a.error,
                "url": media_url(a) if media_url and a.stored_path else None,
            }
            for a in msg.attachments
        ],
        "created_at": msg.created_at.isoformat(),
        "delivery": msg.delivery if msg.direction == "out" else None,
        # Why staff must look at it themselves (a mail without a usable sender, answered to nobody).
        "needs_staff": (
            ((msg.payload or {}).get("extra") or {}).get("needs_staff") if msg.direction == "in" else None
        ),
        **edit_json(msg),
    }


def edit_json(msg: Message) -> dict[str, Any]:
    """An edit names the stored message it corrects (None when that one is not stored); an
    edited message names its corrections."""
    extra = (msg.payload or {}).get("extra") or {}
    shown: dict[str, Any] = {}
    if extra.get("edit_of"):
        shown["edit_of"] = extra.get("edit_of_row")
    if extra.get("edited_by"):
        shown["edited_by"] = list(extra["edited_by"])
    return shown


async def original_of_edit(
    session: AsyncSession, channel: str, channel_user_id: str, chat_message_id: str, *, scan: int = 500
) -> Message | None:
    """The stored message a provider edit refers to, by the provider's own message id.

    The id sits in the payload (`extra.message_id`), which is JSON on both databases, so the
    sender's latest rows are scanned rather than the column queried: a correction is made
    within minutes, never hundreds of messages later.
    """
    rows = await session.execute(
        select(Message)
        .where(
            Message.channel == channel,
            Message.channel_user_id == channel_user_id,
            Message.direction == "in",
        )
        .order_by(Message.id.desc())
        .limit(scan)
    )
    for row in rows.scalars():
        extra = (row.payload or {}).get("extra") or {}
        if str(extra.get("message_id")) == chat_message_id and not extra.get("edit_of"):
            return row
    return None


def record_edit(original: Message, edit: Message) -> None:
    """Link a correction and the message it corrects; both texts stay, as the client wrote them."""
    payload = dict(original.payload or {})
    extra = dict(payload.get("extra") or {})
    extra["edited_by"] = [*(extra.get("edited_by") or []), edit.id]
    original.payload = {**payload, "extra": extra}  # a new dict: the JSON column sees the change
    edit_payload = dict(edit.payload or {})
    edit.payload = {
        **edit_payload,
        "extra": {**(edit_payload.get("extra") or {}), "edit_of_row": original.id},
    }
