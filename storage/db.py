"""Engines and sessions.

SQLite gets one write connection (a pool of one) so writers queue in-process on an
asyncio wait instead of spinning in SQLite's busy handler, a separate pool of read
connections that WAL lets run beside the writer, and a few inline read connections for
the hot path's short lookups. PostgreSQL uses one pool for both.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from storage.sqlite_inline import (
    INLINE_BUSY_MS,
    InlineConnection,
    inline_creator,
    inline_savepoints,
    open_intake,
    pragmas,
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(engine: AsyncEngine, *, writer: bool, busy_ms: int = 10000) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (the pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in pragmas(busy_ms):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # The writer takes the write lock up front: a deferred transaction that later
        # writes can fail with SQLITE_BUSY instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def is_memory(url: str) -> bool:
    """`sqlite+aiosqlite://` or `…/:memory:`: a database that lives in one connection (the fast test tier)."""
    return is_sqlite(url) and (make_url(url).database or ":memory:") == ":memory:"


def ensure_sqlite_dir(url: str) -> None:
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class WriteLane:
    """Turn-taking for SQLite's single write connection, with a fast lane for the inbound writer.

    Webhooks wait on the inbound writer's commit, so it goes before handling and
    outbox bookkeeping whenever it is waiting; without this, eight busy conversations
    queue ahead of every batch and each provider waits behind them. A turn ending hands
    the lane to exactly one waiter (urgent first, then in arrival order): waking every
    waiter to let one through cost each turn as many wake-ups as there were waiters.
    """

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, urgent: bool) -> AsyncIterator[None]:
        if not self._busy and not self._urgent and (urgent or not self._normal):
            self._busy = True
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._urgent if urgent else self._normal
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed the lane just as we were cancelled: pass it on
                elif waiter in queue:
                    queue.remove(waiter)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the lane stays busy: it is theirs now
                    return
        self._busy = False


def keepalives(url: str) -> dict[str, Any]:
    """Server-side TCP keepalives: if a host vanishes (no FIN, no RST), PostgreSQL ends its sessions
    after about 8 s, which frees their advisory locks (leaderships, conversation leases)."""
    if not url.startswith("postgresql+asyncpg"):
        return {}
    keepalives = {"tcp_keepalives_idle": "4", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "2"}
    return {"server_settings": keepalives}


class Database:
    """The two engines and their session factories; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.memory = is_memory(url)
        if self.memory:
            # One connection for the writer and the readers: an in-memory database is private to it.
            self.write_engine = create_async_engine(url, poolclass=StaticPool)
            self.read_engine = self.quick_engine = self.write_engine
            _sqlite_pragmas(self.write_engine, writer=True)
        elif self.sqlite:
            ensure_sqlite_dir(url)
            self.write_engine = create_async_engine(
                url, pool_size=1, max_overflow=0, pool_timeout=60, async_creator=inline_creator(url)
            )
            self.read_engine = create_async_engine(url, pool_size=4, max_overflow=4)
            # No overflow: an overflow connection is closed on return, and opening one (a thread,
            # the file, the pragmas) costs a hundred lookups; the few kept open are never all busy.
            self.quick_engine = create_async_engine(
                url, pool_size=8, max_overflow=0, pool_timeout=60, async_creator=inline_creator(url)
            )
            _sqlite_pragmas(self.write_engine, writer=True, busy_ms=INLINE_BUSY_MS)
            inline_savepoints(self.write_engine)
            _sqlite_pragmas(self.read_engine, writer=False)
            _sqlite_pragmas(self.quick_engine, writer=False, busy_ms=INLINE_BUSY_MS)
        else:
            self.write_engine = create_async_engine(
                url, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args=keepalives(url)
            )
            self.read_engine = self.quick_engine = self.write_engine
        self.lane = WriteLane() if self.sqlite else None
        self._intake: InlineConnection | None = None  # SQLite file: the inbound writer's connection
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.quick_sessions = async_sessionmaker(self.quick_engine, expire_on_commit=False)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction that writes: committed on success, rolled back on error.

        `urgent` is for the inbound writer only (see WriteLane).
        """
        if self.lane is None:
            async with self.write_sessions() as session, session.begin():
                yield session
            return
        async with self.lane.turn(urgent), self.write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write_connection(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """`write()` without an ORM session, for writers of Core and prepared statements only (the
        outbox's claim and its record of sends): about 70 µs of CPU less per transaction."""
        async with self.write_turn(urgent), self.write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def write_turn(self, urgent: bool = False) -> AsyncIterator[None]:
        """The write connection's turn, for a writer that takes the connection itself
        (storage/repos/inbound.py); PostgreSQL's writers need none."""
        if self.lane is None:
            yield
            return
        async with self.lane.turn(urgent):
            yield

    @asynccontextmanager
    async def intake(self) -> AsyncIterator[InlineConnection | None]:
        """The inbound writer's turn: on a SQLite file with its own inline connection
        (storage/sqlite_inline.py `open_intake`), elsewhere None (the writer takes a pooled one)."""
        async with self.write_turn(urgent=True):
            if not self.sqlite or self.memory:
                yield None
                return
            if self._intake is None:
                self._intake = await open_intake(self.url)
            yield self._intake

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session:
            yield session

    @asynccontextmanager
    async def quick_read(self) -> AsyncIterator[AsyncSession]:
        """A read of a few indexed rows on the hot path (a worker's next message, a send's route).

        On SQLite it runs on the loop's thread (storage/sqlite_inline.py): through the
        read pool's threads each statement waited for the GIL of the busy loop twice, some
        12 ms for a 50 µs lookup under load, and a conversation's turn and a send's
        route waited that long. A WAL reader never waits for a lock, so the loop is held
        only for the lookup itself. Reports, listings and scans keep `read()`.
        """
        async with self.quick_sessions() as session:
            yield session

    @asynccontextmanager
    async def quick_connection(self) -> AsyncIterator[AsyncConnection]:
        """`quick_read`'s connection without a session, for a prepared statement (storage/prepared.py):
        on SQLite it reads in autocommit on the driver, with no BEGIN, ORM session or rollback."""
        async with self.quick_engine.connect() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._intake is not None:
            intake, self._intake = self._intake, None
            await intake.close()
        await self.write_engine.dispose()
        for engine in {self.read_engine, self.quick_engine} - {self.write_engine}:
            await engine.dispose()


def dialect_of(on: AsyncSession | AsyncConnection) -> str:
    """`postgresql` or `sqlite`: the few statements that differ (SKIP LOCKED, upserts) ask this."""
    if isinstance(on, AsyncConnection):
        return str(on.dialect.name)
    return str(on.get_bind().dialect.name)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE touched (SQLAlchemy types `execute` as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)
