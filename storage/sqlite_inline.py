"""SQLite's write connection, run on the event loop's own thread.

aiosqlite sends every statement to a worker thread and wakes the loop with the result:
two thread switches per statement. Handling one message takes some twenty statements on
the single write connection, which every writer takes in turn (storage/db.py's write
lane), so on a busy two-core machine those switches, each waiting for a CPU and the GIL,
were most of a message's time holding the lane. A statement on the write connection is
a B-tree update of tens of microseconds; running it inline costs the loop less than
the hop did. The read pool keeps aiosqlite's threads: reports and long reads must not
stall the loop.

The trade-off: a statement that waits for SQLite's lock (another process writing the
same file, e.g. an `aftersales orders import` run beside `serve`) holds the loop for as
long, bounded by `busy_timeout` (INLINE_BUSY_MS).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

INLINE_BUSY_MS = 2000  # how long the loop may wait for another process's write lock


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's interface, its statements executed at once instead of on its thread.

    The thread still opens and closes the sqlite3 connection (aiosqlite's own start
    and stop); `check_same_thread=False` lets the loop's thread use it in between,
    never both at once: each statement completes before control returns to the loop.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        # It only opens and closes the file; a connection nobody closed must not keep the
        # interpreter from exiting.
        self._thread.daemon = True

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def execute_now(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """One statement and its rows, on the calling thread without a coroutine: a prepared
        statement's (storage/prepared.py) three awaits through aiosqlite cost more than it."""
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        cursor = self._connection.execute(sql, args)
        try:
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()


def pragmas(busy_ms: int) -> list[str]:
    """What every connection to the file is opened with (storage/db.py's engines, the intake)."""
    return ["journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={int(busy_ms)}"]


async def driver_rows(driver: Any, sql: str, args: Sequence[Any]) -> list[Any]:
    """A statement's rows on aiosqlite's connection: at once on an inline one, else on its thread."""
    if isinstance(driver, InlineConnection):
        return driver.execute_now(sql, args)
    cursor = await driver.execute(sql, args)
    try:
        return list(await cursor.fetchall()) if cursor.description else []
    finally:
        await cursor.close()


async def open_intake(url: str) -> InlineConnection:
    """The inbound writer's own inline connection (storage/repos/inbound.py), outside any pool.

    A group commit through the pool paid a checkout, its reset and aiosqlite's awaits, more
    than SQLite's BEGIN, INSERT and COMMIT (76 of 284 µs were the checkout alone). It writes
    only in the write lane's urgent turn (storage/db.py), so never beside the pool's write
    connection. Its automatic checkpoints are off: the pool's write connection or `serve`'s
    checkpointer (storage/wal.py) keep the WAL short, never the webhook's commit.
    """
    conn = await inline_creator(url)()
    assert isinstance(conn, InlineConnection) and conn._connection is not None
    conn._connection.isolation_level = None  # BEGIN IMMEDIATE and COMMIT are sent by the writer
    for pragma in [*pragmas(INLINE_BUSY_MS), "wal_autocheckpoint=0"]:
        conn.execute_now(f"PRAGMA {pragma}", ())
    return conn


def inline_creator(url: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An `async_creator` for create_async_engine: one inline connection to the file in `url`."""
    database = make_url(url).database or ""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, check_same_thread=False, timeout=INLINE_BUSY_MS / 1000)

    async def create() -> aiosqlite.Connection:
        return await InlineConnection(connector, 64)

    return create


def inline_savepoints(engine: AsyncEngine) -> None:
    """Savepoints of `engine`'s inline connections sent on the driver at once.

    Handling's shared transaction gives every conversation's turn a savepoint
    (bot/core/turns.py), and SQLAlchemy sent each SAVEPOINT and RELEASE as a compiled
    statement through its execution path: 295 µs of CPU per turn for the pair, 105 µs so.
    SQLAlchemy still keeps the session's nested transaction and its rollback; only the
    SQL goes straight to the connection.
    """

    def run(connection: Connection, sql: str) -> None:
        driver = connection.connection.driver_connection
        if isinstance(driver, InlineConnection):
            driver.execute_now(sql, ())
        else:  # pragma: no cover - the inline engine hands out inline connections only
            connection.exec_driver_sql(sql)

    def savepoint(connection: Connection, name: str) -> None:
        run(connection, f'SAVEPOINT "{name}"')

    def release(connection: Connection, name: str) -> None:
        run(connection, f'RELEASE SAVEPOINT "{name}"')

    def rollback_to(connection: Connection, name: str) -> None:
        run(connection, f'ROLLBACK TO SAVEPOINT "{name}"')

    dialect: Any = engine.dialect
    dialect.do_savepoint, dialect.do_release_savepoint = savepoint, release
    dialect.do_rollback_to_savepoint = rollback_to
