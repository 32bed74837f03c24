"""The outbox: every reply and alert is a row first, a provider call second.

Rows are written in the transaction of the decision that caused them, so a crash
between deciding and sending loses nothing; the dispatcher claims due rows with a
lease (and `FOR UPDATE SKIP LOCKED` on PostgreSQL) so several processes never
send the same row at once. A lease names its owner, whose heartbeat extends it; a
killed process's leases run out after `cluster.lease_seconds` and its rows are
claimed again. Claims are serialised (one advisory lock, held for the claim's short
transaction) and skip every recipient that has a row in flight, so one recipient's
messages leave in order whichever process sends them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    Update,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnClause

from bot.messages import OutboundMessage
from storage.db import dialect_of, rowcount
from storage.leases import OUTBOX_CLAIM, xact_lock
from storage.models import Message, OutboxRow, utcnow
from storage.prepared import Prepared, named


@dataclass(frozen=True, slots=True)
class Queued:
    """An enqueued reply: its outbox row and the conversation's message that shows it."""

    id: int
    message_id: int | None


_OUTBOX = cast(Table, OutboxRow.__table__)
_MESSAGES = cast(Table, Message.__table__)

# Built once and run on the driver (storage/prepared.py) for every reply: a look-up and two
# INSERT … RETURNING, no ORM objects to flush. Every column with a default is named.
_OUT_MESSAGE: tuple[str, ...] = ("channel", "direction", "channel_user_id", "conversation_id", "text")
_OUT_MESSAGE += ("payload", "delivery", "handled_at", "created_at")
_OUT_ROW: tuple[str, ...] = ("message_id", "cause_message_id", "channel", "channel_user_id", "kind")
_OUT_ROW += ("payload", "idempotency_key", "next_attempt_at", "created_at")
_BY_KEY = Prepared(
    select(_OUTBOX.c.id, _OUTBOX.c.message_id).where(_OUTBOX.c.idempotency_key == bindparam("key"))
)
_INSERT_MESSAGE = Prepared(
    insert(_MESSAGES)
    .values(
        named(_MESSAGES, *_OUT_MESSAGE)
    )
    .returning(_MESSAGES.c.id)
)
_INSERT_ROW = Prepared(
    insert(_OUTBOX)
    .values(
        named(_OUTBOX, *_OUT_ROW) | {"state": "pending", "attempts": 0},
    )
    .returning(_OUTBOX.c.id)
)


async def queued_by_key(session: AsyncSession, idempotency_key: str) -> Queued | None:
    """What was already enqueued under this key: a retried decision finds it instead of sending twice."""
    found = await _BY_KEY.first(session, {"key": idempotency_key})
    return Queued(*found) if found is not None else None


async def enqueue(
    session: AsyncSession,
    out: OutboundMessage,
    *,
    conversation_id: int | None = None,
    cause_message_id: int | None = None,
    kind: str = "reply",
    not_before: datetime | None = None,
) -> Queued:
    """Store the outbound message (visible in the conversation as `queued`) and its outbox row."""
    if not out.idempotency_key:
        raise ValueError("an outbound message needs an idempotency key")
    existing = await queued_by_key(session, out.idempotency_key)
    if existing is not None:
        return existing
    now = utcnow()
    payload = out.to_json()
    message_id = await _INSERT_MESSAGE.scalar(
        session,
        {
            "channel": str(out.channel),
            "direction": "out",
            "channel_user_id": out.channel_user_id,
            "conversation_id": conversation_id,
            "text": out.text,
            "payload": payload,
            "delivery": "queued",
            "handled_at": now,
            "created_at": now,
        },
    )
    row_id = await _INSERT_ROW.scalar(
        session,
        {
            "message_id": message_id,
            "cause_message_id": cause_message_id,
            "channel": str(out.channel),
            "channel_user_id": out.channel_user_id,
            "kind": kind,
            "payload": payload,
            "idempotency_key": out.idempotency_key,
            "next_attempt_at": not_before or now,
            "created_at": now,
        },
    )
    return Queued(int(row_id), int(message_id))


@dataclass(frozen=True, slots=True)
class DueRow:
    """What a claim hands the dispatcher: enough to send the row and record the outcome."""

    id: int
    message_id: int | None
    channel: str
    kind: str
    attempts: int
    payload: dict[str, Any]
    next_attempt_at: datetime


@functools.cache
def claim_statement(dialect: str) -> Prepared:
    """The claim, prepared (storage/prepared.py) once per dialect."""
    return Prepared(_claim_statement(dialect))


def _claim_statement(dialect: str) -> Update:
    """The claim's statement (it runs for every batch of replies).

    Two ordered, limited walks of ix_outbox_due (new rows, then leases that ran out) instead of
    one OR, which sorted every due row at each claim, so a backlog made each claim slower; a
    recipient's live lease is one probe of the partial ix_outbox_in_flight. The states are
    literals so that those partial indexes apply on PostgreSQL's prepared statements too.
    """
    table = _OUTBOX
    busy = table.alias("busy")
    now: BindParameter[datetime] = bindparam("now")
    sending: ColumnClause[str] = literal_column("'sending'")
    in_flight = exists().where(
        busy.c.channel == table.c.channel,
        busy.c.channel_user_id == table.c.channel_user_id,
        busy.c.state == sending,
        busy.c.locked_until >= now,
    )
    walks = []
    for due in (
        (table.c.state == literal_column("'pending'")) & (table.c.next_attempt_at <= now),
        (table.c.state == sending) & (table.c.locked_until < now),
    ):
        walk = (
            select(table.c.id, table.c.next_attempt_at)
            .where(due, ~in_flight)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(bindparam("limit"))
        )
        if dialect == "postgresql":
            walk = walk.with_for_update(skip_locked=True)
        walked = walk.subquery()
        walks.append(select(walked.c.id, walked.c.next_attempt_at))
    both = union_all(*walks).subquery()
    due_ids = select(both.c.id).order_by(both.c.next_attempt_at, both.c.id).limit(bindparam("limit"))
    return (
        update(table)
        .where(table.c.id.in_(due_ids.scalar_subquery()))
        .values(state=sending, locked_until=bindparam("until"), locked_by=bindparam("owner"))
        .returning(
            table.c.id,
            table.c.message_id,
            table.c.channel,
            table.c.kind,
            table.c.attempts,
            table.c.payload,
            table.c.next_attempt_at,
        )
    )


async def claim_due(
    session: AsyncSession | AsyncConnection,
    *,
    now: datetime,
    lease: timedelta,
    limit: int = 50,
    owner: str = "",
) -> list[DueRow]:
    """Take due rows (pending, or `sending` whose lease ran out after a crash) for `owner`.

    A recipient with a row in flight (a live lease, here or in another process) is left
    out, so its next message waits until the one before it is recorded. One UPDATE …
    RETURNING takes them, no ORM rows loaded to change three columns.
    """
    await xact_lock(session, OUTBOX_CLAIM)  # the claim before ours has committed: its leases are seen
    params = {"now": now, "limit": limit, "until": now + lease, "owner": owner or None}
    rows = [DueRow(*r) for r in await claim_statement(dialect_of(session)).rows(session, params)]
    rows.sort(key=lambda r: (r.next_attempt_at, r.id))  # RETURNING keeps no order: queue order
    return rows


async def heartbeat(session: AsyncSession, owner: str, row_ids: Sequence[int], until: datetime) -> int:
    """Extend the leases `owner` still holds on these rows; returns how many it holds."""
    if not row_ids:
        return 0
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(list(row_ids)), OutboxRow.state == "sending", OutboxRow.locked_by == owner)
        .values(locked_until=until)
    )
    return rowcount(result)


async def release(session: AsyncSession, owner: str, row_ids: Sequence[int]) -> int:
    """Give back leased rows whose send never started (a graceful stop): due again at once."""
    if not row_ids:
        return 0
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(list(row_ids)), OutboxRow.state == "sending", OutboxRow.locked_by == owner)
        .values(state="pending", locked_until=None, locked_by=None)
    )
    return rowcount(result)


async def release_all_leases(session: AsyncSession) -> int:
    """Put every `sending` row back to pending; only for a single-process database (SQLite) at start-up,
    where no other process can be in the middle of sending it."""
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.state == "sending")
        .values(state="pending", locked_until=None, locked_by=None)
    )
    return rowcount(result)


# Prepared (storage/prepared.py): the recorder runs these for every few replies sent.
_MARK_SENT_ROW = Prepared(
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        state="sent",
        sent_at=bindparam("now", type_=_OUTBOX.c.sent_at.type),
        provider_message_id=bindparam("pid"),
        attempts=_OUTBOX.c.attempts + 1,
        locked_until=None,
        locked_by=None,
    )
)
_MARK_SENT_MESSAGE = Prepared(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("mid"))
    .values(delivery="sent", provider_message_id=bindparam("pid"))
)


async def mark_sent_many(session: AsyncSession, sent: Sequence[tuple[int, int | None, str | None]]) -> None:
    """Record many accepted sends in one transaction: (outbox row id, message id, provider id)."""
    await mark_sent_rows(await session.connection(), sent)


async def mark_sent_rows(conn: AsyncConnection, sent: Sequence[tuple[int, int | None, str | None]]) -> None:
    """`mark_sent_many` on a bare connection: both recorders (bot/core/sent.py) write without a session."""
    if not sent:
        return
    now = utcnow()
    rows = [{"row_id": row_id, "pid": pid, "now": now} for row_id, _mid, pid in sent]
    await _MARK_SENT_ROW.many(conn, rows)
    messages = [{"mid": mid, "pid": pid} for _row, mid, pid in sent if mid is not None]
    if messages:
        await _MARK_SENT_MESSAGE.many(conn, messages)


async def mark_sent(session: AsyncSession, row_id: int, provider_id: str | None) -> None:
    row = await session.get(OutboxRow, row_id)
    if row is None:
        return
    row.state = "sent"
    row.sent_at = utcnow()
    row.provider_message_id = provider_id
    row.attempts += 1
    row.locked_until = None
    row.locked_by = None
    if row.message_id is not None:
        await session.execute(
            update(Message)
            .where(Message.id == row.message_id)
            .values(delivery="sent", provider_message_id=provider_id)
        )


async def mark_retry(session: AsyncSession, row_id: int, *, error: str, next_at: datetime) -> None:
    row = await session.get(OutboxRow, row_id)
    if row is None:
        return
    row.state = "pending"
    row.attempts += 1
    row.last_error = error
    row.next_attempt_at = next_at
    row.locked_until = None
    row.locked_by = None


async def mark_failed(
    session: AsyncSession, row_id: int, *, error: str, count_attempt: bool = True
) -> OutboxRow | None:
    row = await session.get(OutboxRow, row_id)
    if row is None:
        return None
    row.state = "failed"
    if count_attempt:
        row.attempts += 1
    row.last_error = error
    row.locked_until = None
    row.locked_by = None
    if row.message_id is not None:
        await session.execute(update(Message).where(Message.id == row.message_id).values(delivery="failed"))
    return row


async def depth(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
    return {state: int(n) for state, n in rows}


_NEXT_DUE = Prepared(select(func.min(_OUTBOX.c.next_attempt_at)).where(_OUTBOX.c.state == "pending"))


async def next_due_at(on: AsyncSession | AsyncConnection) -> datetime | None:
    """When the next pending row falls due (the dispatcher's sleep, after every claim)."""
    found: datetime | None = await _NEXT_DUE.scalar(on, {})
    return found


async def caused_by(session: AsyncSession, message_id: int) -> list[OutboxRow]:
    return list(
        (
            await session.execute(
                select(OutboxRow).where(OutboxRow.cause_message_id == message_id).order_by(OutboxRow.id)
            )
        ).scalars()
    )


def outbox_json(row: OutboxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "channel": row.channel,
        "to": row.channel_user_id,
        "text": row.payload.get("text", ""),
        "attachments": row.payload.get("attachments", []),
        "buttons": row.payload.get("buttons", []),
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
    }


async def for_message(session: AsyncSession, message_id: int) -> OutboxRow | None:
    """The outbox row that carries an outbound message (found from a provider's status callback)."""
    return (
        await session.execute(select(OutboxRow).where(OutboxRow.message_id == message_id).limit(1))
    ).scalar_one_or_none()
