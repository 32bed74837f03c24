"""Outbox dispatcher: claims due rows, sends them through the channel adapter, records the result.

Retries use exponential backoff with full jitter, capped; a provider's own
`retry_after` wins. After `outbox.max_attempts` a row is marked failed with the
reason, never deleted.

Several processes share the outbox. Claimed rows carry this process's name and a
lease that a heartbeat extends every quarter of `cluster.lease_seconds`; a killed
process's rows are claimed again once the lease has run out. One recipient's rows
go out one after another in queue order (the claim leaves out recipients with a row
in flight anywhere); recipients run in parallel, at most `outbox.concurrency` sends
at a time. An accepted send is recorded by a group commit within milliseconds, and
the send's slot is freed only then, so a kill -9 repeats at most the sends in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.metrics import Metrics
from bot.core.sent import sent_recorder
from bot.messages import OutboundMessage, SendError
from bot.ports import Sender
from bot.tasks import cancel_and_wait
from config.settings import OutboxSettings
from storage.db import Database
from storage.leases import default_instance
from storage.models import OutboxRow, utcnow
from storage.repos import outbox as outbox_repo

log = logging.getLogger(__name__)

CLAIM_BATCH = 50


FailureHook = Callable[
    [AsyncSession, OutboxRow, SendError], Awaitable[None]
]  # runs in the failure's transaction


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * (2.0 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return max(base / 2, ceiling * r)


@dataclass(slots=True, frozen=True)
class Claimed:
    row_id: int
    message_id: int | None
    channel: str
    kind: str
    attempts: int
    payload: dict[str, Any]

    @property
    def recipient(self) -> tuple[str, str]:
        return self.channel, str(self.payload.get("channel_user_id"))


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        settings: OutboxSettings,
        metrics: Metrics,
        *,
        poll_seconds: float = 1.0,
        on_failure: FailureHook | None = None,
        instance: str = "",
        lease_seconds: float = 10.0,
    ) -> None:
        self.db = db
        self.senders = senders
        self.settings = settings
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.on_failure = on_failure
        self.instance = instance or default_instance()
        self.lease = timedelta(seconds=lease_seconds)
        self.concurrency = max(1, settings.concurrency)
        self.recorder = sent_recorder(db, metrics.record_seconds.observe)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._held: dict[int, bool] = {}  # claimed row id → its send has started
        self._recipients: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False
        self._rng = random.Random()

    def wake(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._held)

    async def start(self) -> None:
        if self.db.sqlite:
            # SQLite means one process: rows it left `sending` died with it; resume them now
            # rather than after the lease. (PostgreSQL deployments rely on the lease.)
            async with self.db.write() as session:
                released = await outbox_repo.release_all_leases(session)
            if released:
                log.info("resuming %d outbox rows interrupted by the last shutdown", released)
        self._stopping = False
        self.recorder.start()
        self._heartbeat = asyncio.create_task(self._beat(), name="outbox-heartbeat")
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the sends in flight and record them, give back the rows not started, then stop.

        Cancelling a send mid-transaction would leave a delivered message recorded as
        `sending`, to be sent again after the lease: a duplicate the client would see; so
        cancelling is the last resort after `grace`.
        """
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        pending = list(self._recipients)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=max(0.1, deadline - loop.time()))
            for task in late:
                task.cancel()
        for task in (self._task, *pending):
            await cancel_and_wait(task)
        await self._release_unstarted()
        await self.recorder.stop()
        await cancel_and_wait(self._heartbeat)
        self._task = self._heartbeat = None

    async def _release_unstarted(self) -> None:
        unstarted = [row_id for row_id, started in self._held.items() if not started]
        if not unstarted:
            return
        try:
            async with self.db.write() as session:
                released = await outbox_repo.release(session, self.instance, unstarted)
            log.info("gave back %d claimed outbox rows to the other processes", released)
        except Exception:
            log.exception("could not give back %d outbox rows; their lease will run out", len(unstarted))
        self._held.clear()

    async def _beat(self) -> None:
        """Extend this process's leases; a row it holds is never claimed by another process."""
        every = self.lease.total_seconds() / 4
        while True:
            await asyncio.sleep(every)
            if not self._held:
                continue
            try:
                async with self.db.write() as session:
                    await outbox_repo.heartbeat(
                        session, self.instance, list(self._held), utcnow() + self.lease
                    )
            except Exception:
                log.exception("outbox heartbeat failed")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the claim: a wake-up during it is not lost
            try:
                claimed = await self._claim_more()
            except Exception:
                log.exception("outbox claim failed")
                claimed = 0
            if self._stopping:
                break
            if claimed >= CLAIM_BATCH and len(self._held) < self._room():
                continue  # a full batch: more may be due; a short one took all there was
            timeout = self.poll_seconds if self._wake.is_set() else await self._sleep_for()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _room(self) -> int:
        """Rows held at most: enough that a slot freed finds a row already claimed."""
        return self.concurrency * 4

    async def _sleep_for(self) -> float:
        # One indexed MIN; the depth gauges are the metrics refresher's (bot/core/singletons.py),
        # a count over the whole outbox is not for every pause of the dispatcher.
        async with self.db.quick_connection() as conn:
            due = await outbox_repo.next_due_at(conn)
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due - utcnow()).total_seconds()))

    async def _claim_more(self) -> int:
        room = self._room() - len(self._held)
        if room <= 0:
            return 0
        async with self.db.write_connection() as conn:
            rows = await outbox_repo.claim_due(
                conn, now=utcnow(), lease=self.lease, limit=min(room, CLAIM_BATCH), owner=self.instance
            )
            claimed = [
                Claimed(r.id, r.message_id, r.channel, r.kind, r.attempts, dict(r.payload)) for r in rows
            ]
        per_recipient: dict[tuple[str, str], list[Claimed]] = {}
        for item in claimed:
            self._held[item.row_id] = False
            per_recipient.setdefault(item.recipient, []).append(item)
        for items in per_recipient.values():
            task = asyncio.create_task(self._in_order(items), name="outbox-recipient")
            self._recipients.add(task)
            task.add_done_callback(self._recipient_done)
        return len(claimed)

    def _recipient_done(self, task: asyncio.Task[None]) -> None:
        self._recipients.discard(task)
        self._wake.set()  # room for more, and maybe this recipient's next message

    async def _in_order(self, items: list[Claimed]) -> None:
        """One recipient's rows, one after another, in the order they were queued."""
        for item in items:
            if self._stopping:
                return  # not started: given back at stop
            async with self._slots:
                if self._stopping:
                    return
                self._held[item.row_id] = True
                try:
                    await self._deliver(item)
                except Exception:
                    log.exception("delivering outbox row %s failed; its lease will run out", item.row_id)
                finally:
                    self._held.pop(item.row_id, None)

    async def _deliver(self, item: Claimed) -> None:
        row_id, channel = item.row_id, item.channel
        out = OutboundMessage.from_json(item.payload)
        sender = self.senders.get(channel)
        if sender is None:
            async with self.db.write() as session:
                await outbox_repo.mark_failed(session, row_id, error=f"channel {channel} is not enabled")
            self.metrics.outbox_failures.labels(channel, "true").inc()
            return
        try:
            provider_id = await sender.send(out)
        except SendError as exc:
            await self._record_failure(row_id, channel, item.attempts + 1, exc)
            return
        except Exception as exc:  # an adapter bug must not kill the dispatcher or drop the row
            log.exception("sender raised unexpectedly for outbox row %s", row_id)
            await self._record_failure(
                row_id, channel, item.attempts + 1, SendError(f"{type(exc).__name__}: {exc}")
            )
            return
        await self.recorder.record(row_id, item.message_id, provider_id)
        self.metrics.messages_out.labels(channel, item.kind).inc()

    async def _record_failure(self, row_id: int, channel: str, attempt: int, exc: SendError) -> None:
        final = exc.permanent or exc.window_closed or attempt >= self.settings.max_attempts
        async with self.db.write() as session:
            if final:
                reason = (
                    exc.reason
                    if exc.permanent or exc.window_closed
                    else (f"gave up after {attempt} attempts: {exc.reason}")
                )
                row = await outbox_repo.mark_failed(session, row_id, error=reason)
                log.warning("outbox row %s failed for good: %s", row_id, reason)
            else:
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else backoff_seconds(
                        attempt,
                        self.settings.backoff_base_seconds,
                        self.settings.backoff_max_seconds,
                        self._rng,
                    )
                )
                await outbox_repo.mark_retry(
                    session, row_id, error=exc.reason, next_at=utcnow() + timedelta(seconds=delay)
                )
                row = None
                log.info(
                    "outbox row %s attempt %s failed (%s); retry in %.1fs", row_id, attempt, exc.reason, delay
                )
            if final and row is not None and self.on_failure is not None:
                await self.on_failure(session, row, exc)
        self.metrics.outbox_failures.labels(channel, "true" if final else "false").inc()
