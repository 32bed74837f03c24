"""Singletons across processes: each role is led by whoever holds its PostgreSQL session lock.

A role ("calendar", "cleanup", "mailbox:email") is a `pg_try_advisory_lock` on one
connection this process keeps for the purpose. The lock lives exactly as long as that
connection: a killed process's locks are free the moment PostgreSQL sees its socket
close (and, for a vanished host, once TCP keepalives give up: see storage/db.py), and
another process takes the role at its next try, every `cluster.leader_retry_seconds`.
A leader checks its connection as often; if it is gone, every role is given up at once
(the callbacks stop the work) before anyone else can have taken it over for long.

SQLite is one process: it leads every role from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.tasks import cancel_and_wait
from storage.db import Database
from storage.leases import lock_key

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


@dataclass
class Role:
    name: str
    on_gain: Callback | None = None
    on_loss: Callback | None = None


class Leadership:
    def __init__(self, db: Database, instance: str, *, retry_seconds: float = 2.0) -> None:
        self.db = db
        self.instance = instance
        self.retry_seconds = retry_seconds
        self.roles: dict[str, Role] = {}
        self._held: set[str] = set()
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.rounds = 0  # completed tries; a gain after the first is a take-over, not a start

    def add(self, name: str, on_gain: Callback | None = None, on_loss: Callback | None = None) -> None:
        self.roles[name] = Role(name, on_gain, on_loss)

    def leads(self, name: str) -> bool:
        return name in self._held

    def held(self) -> list[str]:
        return sorted(self._held)

    async def start(self) -> None:
        try:
            await self._round()
        except Exception:
            log.exception("leadership: first try failed; retrying")
            await self._lose_all()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        """Stop the work of every role held, then free the locks for the other processes."""
        self._stopping = True
        task, self._task = self._task, None
        await cancel_and_wait(task)  # a cancel wait_for swallowed is sent again
        await self._lose_all()

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.retry_seconds)
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._round(), timeout=max(1.0, self.retry_seconds * 2))
            except Exception as exc:
                log.warning("leadership: lost the database connection (%s); giving up %s", exc, self.held())
                await self._lose_all()

    async def _round(self) -> None:
        if self.db.sqlite:
            for name in sorted(set(self.roles) - self._held):
                await self._gain(name)
            self.rounds += 1
            return
        conn = await self._connection()
        if self._held:
            await conn.execute(text("SELECT 1"))  # our session, hence our locks, still alive
        for name in sorted(set(self.roles) - self._held):
            got = await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key("leader", name)})
            if got.scalar_one():
                await self._gain(name)
        self.rounds += 1

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self.db.write_engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _gain(self, name: str) -> None:
        self._held.add(name)
        log.info("leadership: %s now leads %s", self.instance, name)
        role = self.roles[name]
        if role.on_gain is not None:
            try:
                await role.on_gain()
            except Exception:
                log.exception("leadership: starting %s failed", name)

    async def _lose_all(self) -> None:
        for name in sorted(self._held):
            self._held.discard(name)
            role = self.roles[name]
            if role.on_loss is not None:
                try:
                    await role.on_loss()
                except Exception:
                    log.exception("leadership: stopping %s failed", name)
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                await conn.close()
