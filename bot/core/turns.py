"""Group commit for handling: the conversations' turns ready at the same time share one transaction.

One write transaction per handled message paid, for every message, a turn of SQLite's
write lane, a connection checkout, BEGIN IMMEDIATE and COMMIT (on PostgreSQL a commit's
flush to disk), and the inbound writer waited behind each of them. Here every turn
that is ready while a batch runs joins it, each in its own SAVEPOINT, so one turn's
error rolls back only that turn's writes; the caller hears its outcome only once the
shared commit is done (its replies are then in the outbox and its post-commit hooks
may run). A batch stops taking turns after `max_turns`, or once it has held the
transaction for `budget_seconds`, so webhooks waiting on the lane wait that long at most.

Different conversations only: one contact's messages still go one at a time (the
engine's worker per contact awaits its turn before taking the next message), and the
conversation lease each turn takes (storage/leases.py) is held until the shared commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.tasks import cancel_and_wait
from storage.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
TurnFn = Callable[[AsyncSession], Awaitable[Any]]


class TurnBatcher:
    def __init__(
        self, db: Database, *, max_turns: int = 32, budget_seconds: float = 0.025, parallel: int = 1
    ) -> None:
        self.db = db
        self.max_turns = max(1, max_turns)
        self.budget_seconds = budget_seconds
        # Batches in flight at once. SQLite has one writer: 1. A server overlaps several
        # transactions' round trips, which one batch at a time would make wait in line.
        self.parallel = max(1, parallel)
        self._queue: deque[tuple[TurnFn, asyncio.Future[Any]]] = deque()
        self._runners: set[asyncio.Task[None]] = set()
        self.batches = 0  # transactions committed, for tests and the benchmark's notes
        self.turns = 0

    async def run(self, turn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `turn` in the next shared transaction; return its result once that has committed.

        Raises what `turn` raised (its writes rolled back, the others' kept), or the commit's
        error (nothing of the batch kept)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((turn, fut))
        # A runner that found the queue empty is done at once, but leaves `_runners` only
        # when its done-callback runs, later: counting it would strand this turn.
        if sum(1 for r in self._runners if not r.done()) < self.parallel:
            runner = asyncio.create_task(self._drain(), name="turn-batcher")
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        return cast(T, await fut)

    async def stop(self, grace: float = 10.0) -> None:
        """Let the batch in flight commit; turns still queued are cancelled (nothing of them was
        written: the sweep finds their messages unhandled)."""
        for _turn, fut in self._queue:
            fut.cancel()
        self._queue.clear()
        runners = list(self._runners)
        if runners:
            _done, pending = await asyncio.wait(runners, timeout=grace)
            for runner in pending:
                await cancel_and_wait(runner)

    async def _drain(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # workers made ready on this tick join the batch
            await self._one_batch()

    async def _one_batch(self) -> None:
        done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        loop = asyncio.get_running_loop()
        try:
            async with self.db.write() as session:
                started = loop.time()
                while self._queue and len(done) < self.max_turns:
                    if done and loop.time() - started >= self.budget_seconds:
                        break
                    turn, fut = self._queue.popleft()
                    if fut.done():  # its worker was cancelled (stopping): leave it to the sweep
                        continue
                    try:
                        async with session.begin_nested():
                            result = await turn(session)
                    except Exception as exc:
                        done.append((fut, None, exc))
                    else:
                        done.append((fut, result, None))
        except Exception as exc:
            log.exception("a batch of %d turns failed to commit", len(done))
            for fut, _result, _error in done:
                if not fut.done():
                    fut.set_exception(exc)
            return
        except BaseException:
            for fut, _result, _error in done:
                fut.cancel()
            raise
        self.batches += 1
        self.turns += len(done)
        for fut, result, error in done:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
