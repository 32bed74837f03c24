"""Registered staff: the only people whose commands (/claim, /ack, /r, ...) are obeyed."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models import Staff
from storage.prepared import PreparedLoad

# Which Staff column holds a sender identity on each channel.
CHANNEL_FIELD = {"telegram": "telegram_chat_id", "whatsapp": "whatsapp", "email": "email", "wechat": "wechat"}


# Built once and run on the driver (storage/prepared.py): every inbound message asks whether its
# sender is staff.
_BY_CONTACT = {
    channel: PreparedLoad(Staff, and_(getattr(Staff, column) == bindparam("value"), Staff.active.is_(True)))
    for channel, column in CHANNEL_FIELD.items()
}


async def find_by_contact(session: AsyncSession, channel: str, channel_user_id: str) -> Staff | None:
    query = _BY_CONTACT.get(channel)
    if query is None:
        return None
    value = channel_user_id.lower() if channel == "email" else channel_user_id
    return await query.first(session, {"value": value})


async def get(session: AsyncSession, key: str) -> Staff | None:
    return (await session.execute(select(Staff).where(Staff.key == key))).scalar_one_or_none()


async def all_active(session: AsyncSession) -> list[Staff]:
    return list(
        (await session.execute(select(Staff).where(Staff.active.is_(True)).order_by(Staff.key))).scalars()
    )


async def with_role(session: AsyncSession, role: str) -> list[Staff]:
    return [s for s in await all_active(session) if role in (s.roles or [])]


async def upsert(session: AsyncSession, key: str, **fields: Any) -> Staff:
    """Create or update one staff member; `fields` are Staff columns (email lower-cased).

    One INSERT … ON CONFLICT (key) DO UPDATE: several processes starting at once on a
    fresh database all sync the rota, and none may fail on the other's row.
    """
    if fields.get("email"):
        fields["email"] = str(fields["email"]).lower()
    if fields.get("telegram_chat_id") is not None:
        fields["telegram_chat_id"] = str(fields["telegram_chat_id"])
    table = cast(Table, Staff.__table__)
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = insert(table).values(key=key, **fields)
    if fields:
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=fields)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"])
    await session.execute(stmt)
    return (
        await session.execute(select(Staff).where(Staff.key == key).execution_options(populate_existing=True))
    ).scalar_one()


def preferred_contact(staff: Staff) -> tuple[str, str] | None:
    """(channel, id) to page first: Telegram, then WhatsApp, then email."""
    for channel in ("telegram", "whatsapp", "email", "wechat"):
        value = getattr(staff, CHANNEL_FIELD[channel])
        if value:
            return channel, str(value)
    return None
