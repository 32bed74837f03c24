"""Group-commit writer: one task, one transaction per batch, each webhook answered after its commit.

Measured on these 2-core machines: one ORM commit per request caps a webhook at a
few hundred requests/s with p99 over a second; committing everything queued in one
transaction keeps thousands per second with p99 in milliseconds. Durability is not
traded away: `submit` returns only once the caller's own row is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.messages import InboundMessage
from bot.tasks import cancel_and_wait
from storage.db import Database
from storage.models import utcnow
from storage.repos import inbound

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """Not stored now (the storing process is gone): the webhook answers 503, the provider retries."""


@dataclass(slots=True, frozen=True)
class Stored:
    message_id: int
    is_new: bool
    channel: str
    channel_user_id: str


class InboundSink(Protocol):
    """Where a webhook's messages go: this process's writer, or the intake link to the storing one."""

    async def submit(self, messages: list[InboundMessage]) -> list[Stored]: ...


class InboundWriter:
    def __init__(
        self,
        db: Database,
        on_stored: Callable[[Sequence[Stored]], Awaitable[None] | None],
        *,
        max_batch: int = 256,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.clock = clock  # stamps `created_at`, which the flood limit counts by; tests move it
        self.on_stored = on_stored
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[list[InboundMessage], asyncio.Future[list[Stored]]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self._not_committing = asyncio.Event()
        self._not_committing.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbound-writer")

    async def stop(self) -> None:
        """Called after the HTTP server stopped taking requests; a batch in flight finishes first."""
        if self._task:
            await self._not_committing.wait()
            await cancel_and_wait(self._task)
            self._task = None

    async def submit(self, messages: list[InboundMessage]) -> list[Stored]:
        """Persist; returns once committed. Raises if the batch's transaction failed."""
        if not messages:
            return []
        if self._task is None or self._task.done():
            raise RuntimeError("inbound writer is not running")
        fut: asyncio.Future[list[Stored]] = asyncio.get_running_loop().create_future()
        await self._queue.put((messages, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # No timer: requests that arrive while a batch commits form the next batch by
            # themselves. One yield lets handlers already runnable on this tick join in.
            await asyncio.sleep(0)
            count = len(batch[0][0])
            while count < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                batch.append(item)
                count += len(item[0])
            self._not_committing.clear()
            try:
                await self._commit(batch)
            finally:
                self._not_committing.set()

    async def _commit(self, batch: list[tuple[list[InboundMessage], asyncio.Future[list[Stored]]]]) -> None:
        flat = [m for msgs, _ in batch for m in msgs]
        try:
            results = await inbound.store_inbound(self.db, flat, now=self.clock())
        except Exception as exc:
            log.exception("inbound batch of %d failed", len(flat))
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.batches += 1
        stored = [
            Stored(mid, new, str(m.channel), m.channel_user_id)
            for m, (mid, new) in zip(flat, results, strict=True)
        ]
        index = 0
        for msgs, fut in batch:
            part = stored[index : index + len(msgs)]
            index += len(msgs)
            if not fut.done():
                fut.set_result(part)
        fresh = [s for s in stored if s.is_new]
        if fresh:
            maybe = self.on_stored(fresh)
            if maybe is not None:
                await maybe
