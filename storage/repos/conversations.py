"""Conversations: one open conversation per contact, its state, priority and dialog."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.states import ConversationState
from storage.models import Contact, Conversation, utcnow
from storage.prepared import PreparedLoad, adopt, inserting
from storage.repos.cursors import decode_cursor, encode_cursor

_TABLE = cast(Table, Conversation.__table__)
_INSERT, _COLUMNS = inserting(_TABLE)


async def open_conversation(session: AsyncSession, contact: Contact) -> Conversation:
    """The contact's current conversation, or a new one if the last was closed."""
    conv = await current_conversation(session, contact)
    return conv if conv is not None else await start_conversation(session, contact)


_CURRENT = PreparedLoad(
    Conversation,
    and_(Conversation.contact_id == bindparam("contact_id"), Conversation.state != ConversationState.CLOSED),
    order_by=Conversation.id.desc(),
)


async def current_conversation(session: AsyncSession, contact: Contact) -> Conversation | None:
    """The contact's conversation that is not closed, if any."""
    return await _CURRENT.first(session, {"contact_id": contact.id})


async def start_conversation(
    session: AsyncSession, contact: Contact, *, language: str | None = None, at: datetime | None = None
) -> Conversation:
    """A new conversation, inserted with its language and first message's time (no UPDATE after),
    by a prepared INSERT rather than an ORM flush (storage/prepared.py)."""
    now = utcnow()
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    values |= {"contact_id": contact.id, "channel": contact.channel, "language": language or contact.language}
    values |= {"state": str(ConversationState.BOT), "priority": "normal", "dialog_state": {}}
    values |= {"last_message_at": at or now, "created_at": now}
    new_id = await _INSERT.scalar(session, values)
    return adopt(session, Conversation(id=new_id, **values), contact=contact)


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            .options(selectinload(Conversation.contact).selectinload(Contact.client))
        )
    ).scalar_one_or_none()


def set_dialog(
    conv: Conversation, name: str | None, state: dict[str, Any] | None, expires_at: datetime | None
) -> None:
    conv.dialog = name
    conv.dialog_state = dict(state or {})
    conv.dialog_expires_at = expires_at


def hand_to_staff(conv: Conversation, staff_key: str | None, now: datetime) -> None:
    """The one hand-over: the bot stops answering and the client's messages go to a person.

    `staff_key` None means nobody has it yet (a handoff: what the client writes goes to
    everyone paged so far). Every call restarts `staff_since`, the relay's idle timer, so
    each staff answer keeps the conversation with staff; a dialog the bot was running ends.
    """
    conv.state = ConversationState.WITH_STAFF
    conv.assigned_staff = staff_key
    conv.staff_since = now
    set_dialog(conv, None, None, None)


def hand_back(conv: Conversation) -> None:
    """The bot answers the client again (resolved, idle, or nobody to relay to)."""
    conv.state = ConversationState.BOT
    conv.assigned_staff = None
    conv.staff_since = None


def touch(conv: Conversation, at: datetime | None = None) -> None:
    conv.last_message_at = at or utcnow()


async def list_conversations(
    session: AsyncSession,
    *,
    limit: int = 50,
    cursor: str | None = None,
    state: str | None = None,
    priority: str | None = None,
    channel: str | None = None,
) -> tuple[list[Conversation], str | None]:
    """Newest activity first; keyset pagination on (last_message_at, id)."""
    query = select(Conversation).options(selectinload(Conversation.contact).selectinload(Contact.client))
    if state:
        query = query.where(Conversation.state == state)
    if priority:
        query = query.where(Conversation.priority == priority)
    if channel:
        query = query.where(Conversation.channel == channel)
    if cursor:
        at, row_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Conversation.last_message_at < at,
                and_(Conversation.last_message_at == at, Conversation.id < row_id),
            )
        )
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].last_message_at, rows[-1].id)
    return rows, next_cursor


def conversation_json(conv: Conversation) -> dict[str, Any]:
    contact = conv.contact
    return {
        "id": conv.id,
        "channel": conv.channel,
        "contact": {"channel": contact.channel, "id": contact.channel_user_id, "name": contact.name},
        "client": contact.client.key if contact.client else None,
        "state": conv.state,
        "priority": conv.priority,
        "last_message_at": conv.last_message_at.isoformat(),
    }
