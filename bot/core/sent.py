"""Recording accepted sends quickly: the window in which a kill -9 would make a reply go out twice.

The dispatcher frees a send's slot only once its row is recorded as sent, so the sends
a crash can repeat are those in flight (`outbox.concurrency`) — provided recording is
quick. On a busy event loop a task waits its turn behind every handler; so on
PostgreSQL the group commit runs on its own thread, with its own event loop and
connection, and is scheduled by the interpreter within a few milliseconds whatever the
main loop is doing. SQLite (one process, one writer connection shared through the
write lane) records on the main loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.tasks import cancel_and_wait
from storage.db import Database, keepalives
from storage.repos import outbox as outbox_repo

log = logging.getLogger(__name__)

Sent = tuple[int, int | None, str | None]  # outbox row id, message id, provider id
Pending = tuple[Sent, float, "asyncio.Future[None]"]  # what was sent, when the provider took it, the caller


class Recorder(Protocol):
    def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def record(self, row_id: int, message_id: int | None, provider_id: str | None) -> None: ...


def sent_recorder(db: Database, observe: Callable[[float], None] | None = None) -> Recorder:
    return SentRecorder(db, observe) if db.sqlite else ThreadedRecorder(db.url, observe)


class SentRecorder:
    """Group commit of accepted sends: each caller returns once its row is recorded as sent.

    `observe(seconds)` learns, per send, how long after the provider accepted it the record
    was committed: until then a kill -9 would send it again.
    """

    def __init__(self, db: Database, observe: Callable[[float], None] | None = None) -> None:
        self.db = db
        self.observe = observe
        self._queue: list[tuple[tuple[int, int | None, str | None], float, asyncio.Future[None]]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-recorder")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def record(self, row_id: int, message_id: int | None, provider_id: str | None) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(((row_id, message_id, provider_id), time.perf_counter(), fut))
        self._ready.set()
        await fut

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._queue = self._queue, []
            while batch:
                try:
                    async with self.db.write_connection(urgent=True) as conn:
                        await outbox_repo.mark_sent_rows(conn, [item for item, _, _ in batch])
                except Exception:
                    # Unrecorded, the lease would run out and the client get it twice: keep trying.
                    log.exception("recording %d sent outbox rows failed; retrying", len(batch))
                    await asyncio.sleep(0.2)
                    continue
                committed = time.perf_counter()
                for _, accepted, fut in batch:
                    if self.observe is not None:
                        self.observe(committed - accepted)
                    if not fut.done():
                        fut.set_result(None)
                batch = []


class ThreadedRecorder:
    """The group commit on a thread of its own (PostgreSQL): callers await a future of their loop."""

    def __init__(self, url: str, observe: Callable[[float], None] | None = None) -> None:
        self.url = url
        self.observe = observe
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="outbox-recorder")
        self._thread.daemon = True
        self._thread.start()
        self._ready.wait(10)

    async def stop(self) -> None:
        if self._thread is not None:
            self._put(None)
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None

    async def record(self, row_id: int, message_id: int | None, provider_id: str | None) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(((row_id, message_id, provider_id), time.perf_counter(), fut))
        await fut

    def _put(self, item: Pending | None) -> None:
        self._queue.put(item)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _serve(self) -> None:
        engine = create_async_engine(self.url, pool_size=1, max_overflow=1, connect_args=keepalives(self.url))
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            stopping = False
            while not stopping:
                await self._wake.wait()
                self._wake.clear()
                batch = []
                with contextlib.suppress(queue.Empty):
                    while True:
                        item = self._queue.get_nowait()
                        if item is None:
                            stopping = True
                        else:
                            batch.append(item)
                if batch:
                    await self._commit(engine, batch)
        finally:
            await engine.dispose()

    async def _commit(self, engine: AsyncEngine, batch: list[Pending]) -> None:
        while True:
            try:
                async with engine.begin() as conn:
                    await outbox_repo.mark_sent_rows(conn, [item for item, _, _ in batch])
                break
            except Exception:
                log.exception("recording %d sent outbox rows failed; retrying", len(batch))
                await asyncio.sleep(0.2)
        committed = time.perf_counter()
        for _, accepted, fut in batch:
            if self.observe is not None:
                self.observe(committed - accepted)
            fut.get_loop().call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
