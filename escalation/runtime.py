"""Escalation wiring for one running app: config files, service, scheduler, staff sync, health.

bot/app.py builds one of these; its `start`/`stop` run in the app's lifecycle. Config
files are read and validated here, so a bad rota, keyword or FAQ file stops start-up
with the file, the entry and the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.states import EscalationState
from config.settings import ConfigError, EscalationSettings
from escalation.calendar import Calendar, CalendarError, load_calendar
from escalation.coverage import bind_calendar, coverage_gaps
from escalation.faq import Faq, load_faq
from escalation.jobs import EscalationJobs
from escalation.keywords import UrgencyMatcher, load_keywords
from escalation.rota import Override, Rota, RotaError, load_rota
from escalation.service import EscalationService
from storage.db import Database
from storage.models import utcnow
from storage.repos import escalations as repo
from storage.repos import staff as staff_repo

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parent.parent


def config_path(path: str) -> Path:
    """Relative paths are tried from the working directory, then from the installed project."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    packaged = PROJECT_DIR / p
    return packaged if packaged.exists() else p


def read_rota(path: str) -> Rota:
    try:
        return load_rota(config_path(path))
    except RotaError as exc:
        raise ConfigError(f"rota: {exc}") from None


def read_calendar(path: str, default_timezone: str = "UTC") -> Calendar:
    """An empty `calendar.file` is a factory that never closes (no holidays, no closures)."""
    if not path:
        return Calendar(timezone=default_timezone)
    try:
        return load_calendar(config_path(path), default_timezone)
    except CalendarError as exc:
        raise ConfigError(f"calendar: {exc}") from None


def read_keywords(path: str) -> UrgencyMatcher:
    try:
        return load_keywords(config_path(path))
    except RotaError as exc:
        raise ConfigError(f"urgent keywords: {exc}") from None


def read_faq(path: str) -> Faq:
    try:
        return load_faq(config_path(path))
    except RotaError as exc:
        raise ConfigError(f"faq: {exc}") from None


class EscalationRuntime:
    def __init__(
        self,
        settings: EscalationSettings,
        db: Database,
        metrics: Any,
        *,
        channels: set[str] | None = None,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 1.0,
        calendar_file: str = "",
        leads: Callable[[str], bool] = lambda _role: True,
        instance: str = "",
    ) -> None:
        self.settings = settings
        self.db = db
        self.rota = read_rota(settings.rota_file)
        self.calendar = read_calendar(calendar_file, self.rota.timezone)
        bind_calendar(self.rota, self.calendar)
        self.service = EscalationService(
            self.rota,
            ack_timeout_seconds=settings.ack_timeout_seconds,
            max_rounds=settings.max_rounds,
            metrics=metrics,
            enabled_channels=channels,
            clock=clock,
        )
        try:
            self.jobs = self._jobs(db, wake, clock, tick_seconds, leads, instance)
        except ValueError as exc:
            raise ConfigError(f"config: {exc}") from None
        self.gaps: list[dict[str, str]] = []

    def _jobs(
        self,
        db: Database,
        wake: Callable[[], None] | None,
        clock: Callable[[], datetime],
        tick_seconds: float,
        leads: Callable[[str], bool],
        instance: str,
    ) -> EscalationJobs:
        return EscalationJobs(
            db,
            self.service,
            wake=wake,
            clock=clock,
            tick_seconds=tick_seconds,
            refresh=self.refresh_overrides,
            calendar=self.calendar,
            digest_time=self.settings.digest_time,
            coverage_time=self.settings.coverage_time,
            leads=leads,
            instance=instance,
        )

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self.service.clock = clock
        self.jobs.clock = clock

    async def start(self) -> None:
        await self.sync_staff()
        await self.refresh_overrides()
        self.gaps = await self.jobs.check_coverage()
        await self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()

    async def sync_staff(self) -> None:
        """The rota file is the source of truth for who staff are and how to reach them."""
        async with self.db.write() as session:
            for member in self.rota.staff.values():
                await staff_repo.upsert(
                    session,
                    member.key,
                    name=member.name,
                    roles=list(member.roles),
                    timezone=member.timezone,
                    language=member.language,
                    active=True,
                    **member.contact_fields(),
                )

    async def refresh_overrides(self) -> None:
        async with self.db.read() as session:
            rows = await repo.current_overrides(session, self.service.clock())
        self.rota.live_overrides = [
            Override(r.rotation, r.staff_key, r.start, r.end)
            for r in rows
            if r.rotation in self.rota.rotations and r.staff_key in self.rota.staff
        ]

    async def health(self) -> dict[str, Any]:
        async with self.db.read() as session:
            active = await repo.active_list(session)
        return {
            "open": sum(1 for e in active if e.state == EscalationState.OPEN),
            "acknowledged": sum(1 for e in active if e.state == EscalationState.ACKNOWLEDGED),
            "coverage_gaps": coverage_gaps(self.rota, self.calendar, self.service.clock())[:20],
        }
