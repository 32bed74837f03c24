"""SQLite's WAL checkpoints, off the event loop's thread.

By default the connection that commits checkpoints once the WAL passes 1,000 pages,
copying them into the database file and syncing it. The write connection runs on the
loop's thread (storage/sqlite_inline.py), so every few seconds under load that copy
and sync held every request: with a million rows, a 0.15–0.2 s stall that was the
order-status answer's whole p99. `serve` turns the writer's automatic checkpoints off
and checkpoints here, on a thread of the read pool (sqlite3 releases the GIL meanwhile),
in PASSIVE mode, which never waits for the writer or a reader. Should the write
connection be opened again, it checkpoints by itself as before: slower, never unbounded.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from bot.tasks import cancel_and_wait
from storage.db import Database, is_memory

log = logging.getLogger(__name__)


class WalCheckpoints:
    def __init__(self, db: Database, every_seconds: float = 1.0) -> None:
        self.db = db
        self.every_seconds = every_seconds
        self._task: asyncio.Task[None] | None = None
        self.done = 0  # checkpoints run, for tests

    async def start(self) -> None:
        if not self.db.sqlite or is_memory(self.db.url):
            return
        async with self.db.write() as session:
            await session.execute(text("PRAGMA wal_autocheckpoint=0"))
        self._task = asyncio.create_task(self._run(), name="wal-checkpoints")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def checkpoint(self) -> tuple[int, int, int]:
        """(busy, pages in the WAL, pages checkpointed), as SQLite reports them."""
        async with self.db.read_engine.connect() as conn:
            busy, pages, copied = list((await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")).one())
        self.done += 1
        return int(busy), int(pages), int(copied)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed")
