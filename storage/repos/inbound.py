"""The group-commit writer's transaction: many webhooks' messages in one INSERT, on the driver itself.

Every webhook waits for this commit before its 200, and at a few hundred webhooks a second
a batch holds one or two messages, so the cost of a transaction is the cost of a webhook.
Through an ORM session and a Core statement one such commit cost about 730 µs of CPU on
these machines; on the driver's own connection (aiosqlite's, asyncpg's), with the SQL
written once per batch size, about 280 µs, and under load the writer was over half of a
webhook's time (cProfile of `serve` with the engine paused). On a SQLite file the writer has
a connection of its own, outside the pool, used in the write lane's urgent turn
(`Database.intake`): 75 µs per single-message commit, the checkout and aiosqlite's awaits
gone. Values still pass through the columns' own SQLAlchemy bind processors, so a row stored
here reads back exactly as one the ORM stored.

Duplicates (provider retries) are recognised by the partial unique index on (channel,
provider message id) of inbound rows: ON CONFLICT DO NOTHING, then a look-up of the ids the
INSERT did not return.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from bot.messages import InboundMessage
from storage.db import Database
from storage.models import Message, utcnow
from storage.sqlite_inline import driver_rows

_TABLE = cast(Table, Message.__table__)
COLUMNS = ("channel", "direction", "channel_user_id", "provider_message_id", "text", "payload", "created_at")
Key = tuple[str, str]  # (channel, provider message id)
Found = tuple[set[Key], dict[Key, int]]  # the keys this INSERT stored, and every key's row id


async def store_inbound(
    db: Database, batch: Sequence[InboundMessage], *, now: datetime | None = None
) -> list[tuple[int, bool]]:
    """Persist and commit inbound messages; (row id, is_new) for each, in order.

    A message repeated within the batch, or stored before, comes back with is_new False.
    """
    values = _values(db.write_engine.dialect)
    at = values["created_at"](now or utcnow())
    fresh: dict[Key, tuple[Any, ...]] = {}
    for m in batch:
        key = (str(m.channel), m.provider_message_id)
        if key not in fresh:
            row = (key[0], "in", m.channel_user_id, key[1], m.text, values["payload"](m.to_json()), at)
            fresh[key] = row
    rows, keys = list(fresh.values()), list(fresh)
    async with db.intake() as own:
        if own is not None:
            inserted, known = await _sqlite(own, rows, keys)
        else:
            async with db.write_engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                run = _sqlite if db.sqlite else _postgres
                inserted, known = await run(driver, rows, keys)
    result: list[tuple[int, bool]] = []
    claimed: set[Key] = set()
    for m in batch:
        key = (str(m.channel), m.provider_message_id)
        result.append((known[key], key in inserted and key not in claimed))
        claimed.add(key)
    return result


async def _sqlite(driver: Any, rows: list[tuple[Any, ...]], keys: list[Key]) -> Found:
    # The write lock up front, as storage/db.py's writers take it.
    await driver_rows(driver, "BEGIN IMMEDIATE", ())
    try:
        found = await driver_rows(driver, _insert(len(rows), "?"), [v for row in rows for v in row])
        known = {(ch, pid): int(mid) for mid, ch, pid in found}
        inserted = set(known)
        missing = [k for k in keys if k not in known]
        if missing:
            found = await driver_rows(driver, _lookup(len(missing), "?"), [pid for _, pid in missing])
            known.update({(ch, pid): int(mid) for mid, ch, pid in found})
        await driver_rows(driver, "COMMIT", ())
    except BaseException:
        await driver_rows(driver, "ROLLBACK", ())
        raise
    return inserted, _only(known, keys)


async def _postgres(driver: Any, rows: list[tuple[Any, ...]], keys: list[Key]) -> Found:
    async with driver.transaction():
        found = await driver.fetch(_insert(len(rows), "$"), *[v for row in rows for v in row])
        known = {(ch, pid): int(mid) for mid, ch, pid in found}
        inserted = set(known)
        missing = [k for k in keys if k not in known]
        if missing:
            found = await driver.fetch(_lookup(len(missing), "$"), *[pid for _, pid in missing])
            known.update({(ch, pid): int(mid) for mid, ch, pid in found})
    return inserted, _only(known, keys)


def _only(known: dict[Key, int], keys: list[Key]) -> dict[Key, int]:
    """The look-up matched provider ids on any channel: keep the batch's own (channel, id) pairs."""
    wanted = set(keys)
    return {k: v for k, v in known.items() if k in wanted}


@functools.cache
def _insert(rows: int, style: str) -> str:
    width = len(COLUMNS)
    tuples = ", ".join(
        "(" + ", ".join(_mark(style, r * width + c) for c in range(width)) + ")" for r in range(rows)
    )
    return (
        f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES {tuples} "
        "ON CONFLICT (channel, provider_message_id) WHERE direction = 'in' DO NOTHING "
        "RETURNING id, channel, provider_message_id"
    )


@functools.cache
def _lookup(count: int, style: str) -> str:
    marks = ", ".join(_mark(style, i) for i in range(count))
    return (
        "SELECT id, channel, provider_message_id FROM messages "
        f"WHERE direction = 'in' AND provider_message_id IN ({marks})"
    )


def _mark(style: str, index: int) -> str:
    return "?" if style == "?" else f"${index + 1}"


@functools.cache
def _values(dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    """The columns' SQLAlchemy bind processors for this dialect (UTC datetimes, JSON text)."""
    out: dict[str, Callable[[Any], Any]] = {}
    for name in ("payload", "created_at"):
        column_type = _TABLE.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        out[name] = process or _same
    return out


def _same(value: Any) -> Any:
    return value
