"""Outbox dispatcher: claims due rows, sends them through the channel adapter, records the result.

Retries use exponential backoff with full jitter, capped; a provider's own
`retry_after` wins. After `outbox.max_attempts` a row is marked failed with the
reason, never deleted. Rows left `sending` by a killed process are re-claimed when
their lease runs out, so a restart resumes delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.metrics import Metrics
from bot.messages import OutboundMessage, SendError
from bot.ports import Sender
from config.settings import OutboxSettings
from storage.db import Database
from storage.models import OutboxRow, utcnow
from storage.repos import outbox as outbox_repo

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


FailureHook = Callable[
    [AsyncSession, OutboxRow, SendError], Awaitable[None]
]  # runs in the failure's transaction


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * (2.0 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return max(base / 2, ceiling * r)


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
    ) -> None:
        self.db = db
        self.senders = senders
        self.settings = settings
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.on_failure = on_failure
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._rng = random.Random()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self.db.sqlite:
            # SQLite means one process: rows it left `sending` died with it; resume them now
            # rather than after the lease. (PostgreSQL deployments rely on the lease.)
            async with self.db.write() as session:
                released = await outbox_repo.release_all_leases(session)
            if released:
                log.info("resuming %d outbox rows interrupted by the last shutdown", released)
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the pass in flight (a send and its bookkeeping), then stop; cancel only as a last resort.

        Cancelling mid-transaction would leave a delivered message recorded as `sending`,
        to be sent again after the lease: a duplicate the client would see.
        """
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent_any = await self.run_once()
            except Exception:
                log.exception("outbox pass failed")
                sent_any = False
            if sent_any or self._stopping:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), await self._sleep_for())

    async def _sleep_for(self) -> float:
        async with self.db.read() as session:
            due = await outbox_repo.next_due_at(session)
            depth = await outbox_repo.depth(session)
        for state in ("pending", "sending", "sent", "failed"):
            self.metrics.outbox_depth.labels(state).set(depth.get(state, 0))
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due - utcnow()).total_seconds()))

    async def run_once(self) -> bool:
        """One pass over the due rows; True if any were claimed."""
        async with self.db.write() as session:
            rows = await outbox_repo.claim_due(session, now=utcnow(), lease=LEASE)
            claimed = [(r.id, r.channel, r.kind, r.attempts, dict(r.payload)) for r in rows]
        if not claimed:
            return False
        # One recipient's messages go out one after another, in the order they were queued
        # (a claim's "under review" must not overtake its "confirmed"); recipients in parallel.
        per_recipient: dict[tuple[str, str], list[tuple[int, str, str, int, dict[str, Any]]]] = {}
        for item in claimed:
            payload = item[4]
            per_recipient.setdefault((item[1], str(payload.get("channel_user_id"))), []).append(item)

        async def in_order(items: list[tuple[int, str, str, int, dict[str, Any]]]) -> None:
            for item in items:
                await self._deliver(*item)

        await asyncio.gather(*(in_order(items) for items in per_recipient.values()))
        return True

    async def _deliver(
        self, row_id: int, channel: str, kind: str, attempts: int, payload: dict[str, Any]
    ) -> None:
        out = OutboundMessage.from_json(payload)
        sender = self.senders.get(channel)
        if sender is None:
            async with self.db.write() as session:
                await outbox_repo.mark_failed(session, row_id, error=f"channel {channel} is not enabled")
            self.metrics.outbox_failures.labels(channel, "true").inc()
            return
        try:
            provider_id = await sender.send(out)
        except SendError as exc:
            await self._record_failure(row_id, channel, attempts + 1, exc)
            return
        except Exception as exc:  # an adapter bug must not kill the dispatcher or drop the row
            log.exception("sender raised unexpectedly for outbox row %s", row_id)
            await self._record_failure(
                row_id, channel, attempts + 1, SendError(f"{type(exc).__name__}: {exc}")
            )
            return
        async with self.db.write() as session:
            await outbox_repo.mark_sent(session, row_id, provider_id)
        self.metrics.messages_out.labels(channel, kind).inc()

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
