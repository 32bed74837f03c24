"""What runs on one process at a time, and who decides: the leadership roles of one deployment.

- `calendar`: the cron jobs (hand-offs, digest, coverage check); a process taking it
  over runs the occurrence its dead predecessor missed (escalation/jobs.py).
- `mailbox:<channel>`: each polling adapter's poller (the IMAP mailbox); two pollers
  would fetch every mail twice (deduplicated, but twice the IMAP load and races on UIDs).
- `cleanup`: housekeeping of expired rows.

The escalation tick is not a singleton: every process ticks and the rows it moves are
locked with SKIP LOCKED, so the work is shared and nothing waits for a new leader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from bot.core.metrics import Metrics
from bot.ports import Adapter
from bot.states import EscalationState
from bot.tasks import cancel_and_wait
from escalation.jobs import CALENDAR, EscalationJobs
from storage.db import Database
from storage.leadership import Leadership
from storage.models import utcnow
from storage.repos import console_sessions, login_throttle
from storage.repos import escalations as escalation_repo
from storage.repos import outbox as outbox_repo

log = logging.getLogger(__name__)

CLEANUP = "cleanup"


def mailbox_role(channel: str) -> str:
    return f"mailbox:{channel}"


class Housekeeping:
    """Every `every_seconds` on the leader of `cleanup`: expired console sessions and stale
    sign-in counters (each is also purged on the way, so this only bounds their growth)."""

    def __init__(self, db: Database, every_seconds: float = 3600.0) -> None:
        self.db = db
        self.every_seconds = every_seconds
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def run_once(self) -> None:
        now = utcnow()
        async with self.db.write() as session:
            await console_sessions.purge_expired(session, now)
            await login_throttle.purge(session, now - timedelta(days=1))
        self.runs += 1

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(self.every_seconds)


def wire_roles(
    leadership: Leadership,
    jobs: EscalationJobs,
    pollers: Mapping[str, Adapter],
    housekeeping: Housekeeping,
) -> None:
    """Register each role with what starts and stops its work on this process."""

    async def calendar_gained() -> None:
        if leadership.rounds:  # a take-over, not this process's start: the old leader may have missed one
            await jobs.catch_up()

    leadership.add(CALENDAR, on_gain=calendar_gained)
    for name, poller in pollers.items():
        leadership.add(mailbox_role(name), on_gain=poller.start, on_loss=poller.close)
    leadership.add(CLEANUP, on_gain=housekeeping.start, on_loss=housekeeping.stop)


def gauges(db: Database, metrics: Metrics, leadership: Leadership) -> Callable[[], Awaitable[None]]:
    """Refresh, at each Prometheus scrape, what the alert rules watch: roles led, outbox depth,
    unacknowledged escalations (the database is shared: every process reports the same totals)."""

    async def refresh() -> None:
        for role in leadership.roles:
            metrics.leader.labels(role).set(1 if leadership.leads(role) else 0)
        async with db.read() as session:
            depth = await outbox_repo.depth(session)
            active = await escalation_repo.active_list(session)
        for state in ("pending", "sending", "sent", "failed"):
            metrics.outbox_depth.labels(state).set(depth.get(state, 0))
        waiting = [e.opened_at for e in active if e.state == EscalationState.OPEN]
        metrics.escalations_unacknowledged.set(len(waiting))
        oldest = (utcnow() - min(waiting)).total_seconds() if waiting else 0.0
        metrics.oldest_unacknowledged_seconds.set(oldest)

    return refresh
