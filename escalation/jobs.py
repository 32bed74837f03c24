"""The escalation scheduler: APScheduler 3.x on the app's event loop.

A one-second `tick()` takes the escalations whose `next_due_at` has passed (rows
locked with SKIP LOCKED on PostgreSQL, so several processes share the work) and
moves them on. Nothing is pickled into the scheduler: it only says "look now", the
database says what is due, so a restart resumes every climb where it stood.
Cron jobs do the calendar work (hand-off messages, the digest, the coverage check) on
one process only: the leader of the `calendar` role (storage/leadership.py). Each
occurrence is recorded in `job_runs` before it runs, so it runs once even while
leadership changes hands, and a process that takes the role over runs an occurrence
its dead predecessor missed (within `CATCH_UP`). Their outbox keys still name the
shift or the day, as a last guard against a double message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.i18n import Translator
from bot.ids import escalation_number as number
from bot.messages import Channel, OutboundMessage
from escalation.alerts import local_time
from escalation.calendar import Calendar, Closure
from escalation.coverage import coverage_gaps
from escalation.service import EscalationService
from storage.db import Database
from storage.models import Claim, Escalation, utcnow
from storage.repos import escalations as repo
from storage.repos import jobs as job_runs
from storage.repos import outbox

log = logging.getLogger(__name__)
# APScheduler logs every run of the one-second tick at INFO; keep its warnings and errors only.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

CALENDAR = "calendar"  # the leadership role that runs the cron jobs
CATCH_UP = timedelta(minutes=5)  # a new leader runs an occurrence missed this recently
SLACK = timedelta(seconds=30)  # a cron job firing this late still names the occurrence it was for

Job = Callable[[], Awaitable[object]]
CalendarJob = tuple[str, BaseTrigger, Job]


def parse_time_of_day(value: str, key: str) -> tuple[int, int, int]:
    """"08:30" or "08:30:15" → (8, 30, 0) / (8, 30, 15); a ValueError names the key."""
    parts = value.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not (0 <= numbers[0] < 24 and all(0 <= n < 60 for n in numbers[1:])):
        raise ValueError(f"{key} must be HH:MM or HH:MM:SS, got {value!r}")
    return numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0


class EscalationJobs:
    def __init__(
        self,
        db: Database,
        service: EscalationService,
        *,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 1.0,
        digest_time: str = "08:30",
        coverage_time: str = "08:30",
        refresh: Callable[[], Awaitable[None]] | None = None,
        refresh_every: int = 30,
        calendar: Calendar | None = None,
        leads: Callable[[str], bool] = lambda _role: True,
        instance: str = "",
    ) -> None:
        self.db = db
        self.service = service
        self.wake = wake
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.digest_time = parse_time_of_day(digest_time, "escalation.digest_time")
        self.coverage_time = parse_time_of_day(coverage_time, "escalation.coverage_time")
        self.leads = leads  # the cron jobs run only while this says the process leads CALENDAR
        self.instance = instance
        self.scheduler: AsyncIOScheduler | None = None
        self._busy = asyncio.Lock()
        self.refresh = refresh  # re-reads swaps other processes made (/override), every `refresh_every` ticks
        self.refresh_every = refresh_every
        self._ticks = 0
        self.calendar = calendar

    async def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.tick_seconds),
            id="escalation-tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        for job_id, trigger, run in self.calendar_jobs():
            scheduler.add_job(
                self.run_occurrence, trigger, args=[job_id, trigger, run], id=job_id, coalesce=True
            )
        scheduler.start()
        self.scheduler = scheduler
        await self.tick()  # resume overdue climbs at once, not a second later

    def calendar_jobs(self) -> list[CalendarJob]:
        """(id, trigger, job) of every cron job: a hand-off per rotation, the digest, the coverage check."""
        rota = self.service.rota
        jobs: list[CalendarJob] = []
        for rot in rota.rotations.values():
            trigger = CronTrigger(
                day_of_week=rot.start.weekday() if rot.period == "weekly" else None,
                hour=rot.handoff.hour,
                minute=rot.handoff.minute,
                timezone=rot.zone,
            )
            jobs.append((f"handoff-{rot.name}", trigger, self.handoff_messages))
        daily = (
            ("digest", self.digest_time, self.digest),
            ("coverage", self.coverage_time, self.check_coverage),
        )
        for job_id, (hour, minute, second), run in daily:
            trigger = CronTrigger(hour=hour, minute=minute, second=second, timezone=rota.timezone)
            jobs.append((job_id, trigger, run))
        return jobs

    async def run_occurrence(
        self, job_id: str, trigger: BaseTrigger, run: Job, *, late: timedelta = SLACK
    ) -> bool:
        """Run the occurrence of `job_id` due at most `late` ago, if this process leads the calendar
        and nobody has run that occurrence yet; True if it ran here."""
        if not self.leads(CALENDAR):
            return False
        now = utcnow()
        occurrence = trigger.get_next_fire_time(None, now - late)
        if occurrence is None or occurrence > now:
            return False
        async with self.db.write() as session:
            if not await job_runs.claim_occurrence(session, job_id, occurrence, self.instance):
                return False
        log.info("calendar job %s for %s runs on %s", job_id, occurrence.isoformat(), self.instance)
        await run()
        return True

    async def catch_up(self) -> int:
        """On taking the calendar over: run what the previous leader missed; returns how many ran."""
        ran = 0
        for job_id, trigger, run in self.calendar_jobs():
            try:
                ran += await self.run_occurrence(job_id, trigger, run, late=CATCH_UP)
            except Exception:
                log.exception("catching up calendar job %s failed", job_id)
        return ran

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        async with self._busy:  # let a tick in flight finish its transaction
            pass

    async def tick(self) -> int:
        """Move every due escalation on; return the number of alerts queued."""
        if self._busy.locked():
            return 0
        async with self._busy:
            self._ticks += 1
            if self.refresh is not None and self._ticks % self.refresh_every == 0:
                try:
                    await self.refresh()
                except Exception:
                    log.exception("rota override refresh failed")
            now = self.clock()
            queued = 0
            try:
                async with self.db.write() as session:
                    for esc_id in await repo.due_ids(session, now):
                        esc = await repo.lock(session, esc_id)
                        if esc is not None:
                            queued += await self.service.advance(session, esc, now)
            except Exception:
                log.exception("escalation tick failed")
                return 0
        if queued and self.wake:
            self.wake()
        return queued

    async def check_coverage(self) -> list[dict[str, str]]:
        """Daily: log every hour in the next 14 days with nobody on a rotation a policy pages
        (and, with a holiday rotation, nobody on it during a holiday or closure)."""
        gaps = coverage_gaps(self.service.rota, self.calendar, self.clock())
        for gap in gaps:
            log.warning(
                "on-call coverage gap: rotation %s from %s until %s%s",
                gap["rotation"],
                gap["from"],
                gap["until"],
                f" ({gap['holiday']})" if "holiday" in gap else "",
            )
        return gaps

    async def handoff_messages(self, at: datetime | None = None) -> int:
        """Tell whoever starts a shift now that they are on call, until when, in their own time zone."""
        now = at or self.clock()
        rota = self.service.rota
        queued = 0
        async with self.db.write() as session:
            for name in rota.rotations:
                span = rota.shift(name, now + timedelta(seconds=1))
                who = rota.on_call(name, now + timedelta(seconds=1))
                if span is None or who is None or abs((span[0] - now).total_seconds()) > 120:
                    continue
                contact = self.service.contact_of(who)
                if contact is None:
                    continue
                zone = rota.staff[who].timezone or rota.timezone
                text = self.service.translator_of(who)._(
                    "You are on call ({rotation}) from {start} until {end}. "
                    'Pages arrive here; reply "ack" to take one. /oncall shows the rota.',
                    rotation=name,
                    start=local_time(span[0], zone),
                    end=local_time(span[1], zone),
                )
                out = OutboundMessage(
                    channel=Channel(contact[0]),
                    channel_user_id=contact[1],
                    text=text,
                    idempotency_key=f"handoff:{name}:{span[0].isoformat()}:{who}",
                )
                await outbox.enqueue(session, out, kind="notice")
                queued += 1
        if queued and self.wake:
            self.wake()
        return queued

    async def digest(self, at: datetime | None = None) -> int:
        """The morning list of open escalations and claims, to everyone on call."""
        now = at or self.clock()
        rota = self.service.rota
        async with self.db.write() as session:
            active = await repo.active_list(session)
            claims = await repo.open_claims(session)
            closures = upcoming_closures(self.calendar, now)
            recipients: list[str] = []
            for name in rota.rotations:
                person = rota.on_call(name, now)
                if person and person not in recipients:
                    recipients.append(person)
            queued = 0
            for who in recipients:
                contact = self.service.contact_of(who)
                if contact is None:
                    continue
                out = OutboundMessage(
                    channel=Channel(contact[0]),
                    channel_user_id=contact[1],
                    text=digest_text(
                        self.service.translator_of(who),
                        local_time(now, rota.timezone),
                        active,
                        claims,
                        closures,
                    ),
                    idempotency_key=f"digest:{now.astimezone(rota.rotations[next(iter(rota.rotations))].zone).date()}:{who}"
                    if rota.rotations
                    else f"digest:{now.date()}:{who}",
                )
                await outbox.enqueue(session, out, kind="notice")
                queued += 1
        if queued and self.wake:
            self.wake()
        return queued


def digest_text(
    tr: Translator, when: str, active: list[Escalation], claims: list[Claim], closures: list[Closure]
) -> str:
    """The morning digest in one staff member's language."""
    lines = [tr._("Morning digest · {when}", when=when)]
    lines.append(tr._("Open escalations: {n}", n=len(active)))
    for esc in active[:20]:
        who = esc.acknowledged_by or tr._("NOT acknowledged")
        lines.append(f" {number(esc.id)} {esc.reason} {esc.priority} {esc.state} · {who}")
    lines.append(tr._("Open claims: {n}", n=len(claims)))
    for claim in claims[:20]:
        lines.append(f" {claim.number} {claim.state}")
    if closures:
        lines.append(tr._("Closures in the next {days} days: {n}", days=DIGEST_CLOSURE_DAYS, n=len(closures)))
        for c in closures:
            lines.append(
                " "
                + tr._(
                    "{name}: {start} – {end}, reopening {reopens}",
                    name=c.name,
                    start=c.start.isoformat(),
                    end=c.end.isoformat(),
                    reopens=c.reopens.isoformat(),
                )
            )
    return "\n".join(lines)


DIGEST_CLOSURE_DAYS = 30


def upcoming_closures(calendar: Calendar | None, now: datetime) -> list[Closure]:
    """The digest's look ahead: factory closures in the next 30 days, so nobody is surprised by one."""
    if calendar is None:
        return []
    today = calendar.local_day(now)
    return list(calendar.closures_between(today, today + timedelta(days=DIGEST_CLOSURE_DAYS)))
