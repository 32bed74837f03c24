"""The on-call rota: loading `config/rota.toml` and answering "who is on call at t".

Everything here is pure (no clock, no database): the caller passes the instant, so
tests can ask about 3 a.m. on the night clocks change without waiting for it.
Hand-offs happen at a wall-clock time in the rotation's time zone, so a 09:00
hand-off stays at 09:00 local across daylight-saving changes; `zoneinfo` does the
arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

CONTACT_FIELDS = ("telegram_chat_id", "whatsapp", "email", "wechat")


class RotaError(Exception):
    """An invalid rota: names the file, the entry and the reason, and stops start-up."""

    def __init__(self, file: str, entry: str, reason: str) -> None:
        super().__init__(f"{file}: {entry}: {reason}")
        self.file = file
        self.entry = entry
        self.reason = reason


@dataclass(frozen=True)
class StaffMember:
    key: str
    name: str
    telegram_chat_id: str | None = None
    whatsapp: str | None = None
    email: str | None = None
    wechat: str | None = None
    roles: tuple[str, ...] = ()
    timezone: str | None = None
    language: str = "en"  # what their alerts, notices and command answers are written in
    order: tuple[str, ...] = CONTACT_FIELDS  # contact fields in the file's order: the first is paged first

    def contact_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTACT_FIELDS}


@dataclass(frozen=True)
class Rotation:
    name: str
    members: tuple[str, ...]
    period: str  # daily, weekly
    handoff: time
    start: date
    timezone: str
    end: date | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Override:
    rotation: str
    staff: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Level:
    notify: tuple[str, ...]  # "rotation:primary", "staff:boss", "role:qc"
    after_seconds: float


@dataclass(frozen=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    rounds: int = 1
    ack_timeout_seconds: float | None = None  # wait after the last level before the next round


@dataclass
class Rota:
    timezone: str
    staff: dict[str, StaffMember]
    rotations: dict[str, Rotation]
    overrides: list[Override] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)
    routing: dict[str, str] = field(default_factory=dict)
    source: str = ""
    live_overrides: list[Override] = field(default_factory=list)  # swaps made from phones (database)
    holiday_rotation: str | None = None  # pages to any rotation go here on a holiday or closure day
    day_off: Callable[[datetime], str | None] | None = None  # the factory calendar, bound at start-up

    # ---- who is on call -------------------------------------------------------------------------

    def on_call(self, rotation: str, at: datetime) -> str | None:
        """The staff key on call for `rotation` at the aware instant `at`; None is a gap."""
        rot = self.rotations[rotation]
        at = _aware(at)
        chosen = None
        for ov in [
            *self.overrides,
            *self.live_overrides,
        ]:  # the last matching override wins, as later lines are later decisions
            if ov.rotation == rotation and ov.start <= at < ov.end:
                chosen = ov.staff
        if chosen is not None:
            return chosen
        return scheduled(rot, at)

    def override_at(self, rotation: str, at: datetime) -> Override | None:
        found = None
        for ov in [*self.overrides, *self.live_overrides]:
            if ov.rotation == rotation and ov.start <= at < ov.end:
                found = ov
        return found

    def shift(self, rotation: str, at: datetime) -> tuple[datetime, datetime] | None:
        """The scheduled shift (start, end, aware) that contains `at`, ignoring overrides."""
        rot = self.rotations[rotation]
        index = _shift_index(rot, _aware(at))
        if index is None:
            return None
        return _shift_start(rot, index), _shift_start(rot, index + 1)

    def resolve(self, target: str, at: datetime) -> list[str]:
        """Staff keys a policy target names at `at` (a rotation's person, a staff key or a role)."""
        kind, _, name = target.partition(":")
        if kind == "rotation":
            holiday = self.holiday_rotation
            if holiday and self.day_off is not None and self.day_off(at) is not None:
                stand_in = self.on_call(holiday, at)
                if stand_in:  # nobody on the holiday rotation: the regular one still gets the page
                    return [stand_in]
            who = self.on_call(name, at)
            return [who] if who else []
        if kind == "staff":
            return [name]
        if kind == "role":
            return [k for k, s in self.staff.items() if name in s.roles]
        return []

    def policy_for(self, reason: str) -> Policy:
        name = self.routing.get(reason) or self.routing.get("default") or "default"
        if name in self.policies:
            return self.policies[name]
        return next(iter(self.policies.values()))

    def rotations_in_policies(self) -> list[str]:
        names: list[str] = []
        for policy in self.policies.values():
            for level in policy.levels:
                for target in level.notify:
                    kind, _, name = target.partition(":")
                    if kind == "rotation" and name not in names:
                        names.append(name)
        return names

    def coverage_gaps(
        self, now: datetime, days: int = 14, step: timedelta = timedelta(hours=1)
    ) -> list[dict[str, str]]:
        """Hours in the next `days` with nobody on a rotation that a policy pages, merged into spans."""
        gaps: list[dict[str, str]] = []
        start = _aware(now).replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(days=days)
        for rotation in self.rotations_in_policies():
            open_gap: datetime | None = None
            t = start
            while t < end:
                if self.on_call(rotation, t) is None:
                    open_gap = open_gap or t
                elif open_gap is not None:
                    gaps.append({"rotation": rotation, "from": open_gap.isoformat(), "until": t.isoformat()})
                    open_gap = None
                t += step
            if open_gap is not None:
                gaps.append({"rotation": rotation, "from": open_gap.isoformat(), "until": end.isoformat()})
        return gaps

    def who(self, at: datetime) -> dict[str, Any]:
        """What `aftersales rota who` and `GET /api/oncall` print: per rotation and per policy level."""
        at = _aware(at)
        rotations = {}
        for name in self.rotations:
            key = self.on_call(name, at)
            span = self.shift(name, at)
            override = self.override_at(name, at)
            if override is not None:
                span = (override.start, override.end)
            rotations[name] = {
                "staff": key,
                "name": self.staff[key].name if key else None,
                "shift_start": span[0].isoformat() if span else None,
                "shift_end": span[1].isoformat() if span else None,
            }
        policies = {
            pname: [
                {"level": i + 1, "notify": list(level.notify), "staff": self.resolve_all(level.notify, at)}
                for i, level in enumerate(policy.levels)
            ]
            for pname, policy in self.policies.items()
        }
        return {"at": at.isoformat(), "rotations": rotations, "policies": policies}

    def resolve_all(self, targets: tuple[str, ...] | list[str], at: datetime) -> list[str]:
        keys: list[str] = []
        for target in targets:
            for key in self.resolve(target, at):
                if key not in keys:
                    keys.append(key)
        return keys


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _shift_index(rot: Rotation, at: datetime) -> int | None:
    local = at.astimezone(rot.zone)
    days = (local.date() - rot.start).days
    if local.time() < rot.handoff:
        days -= 1  # before today's hand-off the previous day's person is still on
    if days < 0:
        return None
    if rot.end is not None and local.date() > rot.end:
        return None
    return days // 7 if rot.period == "weekly" else days


def _shift_start(rot: Rotation, index: int) -> datetime:
    days = index * 7 if rot.period == "weekly" else index
    day = rot.start + timedelta(days=days)
    # A wall-clock time in the zone: fold=0 picks the first of a repeated hour, a skipped hour moves on.
    local = datetime.combine(day, rot.handoff, tzinfo=rot.zone)
    return local.astimezone(UTC)


def scheduled(rot: Rotation, at: datetime) -> str | None:
    if not rot.members:
        return None
    index = _shift_index(rot, at)
    if index is None:
        return None
    return rot.members[index % len(rot.members)]


def handoffs_between(rot: Rotation, start: datetime, end: datetime) -> list[datetime]:
    """Scheduled hand-off instants in [start, end) (for hand-off messages)."""
    out: list[datetime] = []
    first = _shift_index(rot, start)
    index = 0 if first is None else first
    while True:
        t = _shift_start(rot, index)
        if t >= end:
            return out
        if t >= start:
            out.append(t)
        index += 1


# Loading lives in escalation/rota_file.py, which imports the types above; re-exported here for the
# modules that import it from this one, looked up on first use so that either module may be imported first.
if TYPE_CHECKING:
    from escalation.rota_file import load_rota as load_rota
    from escalation.rota_file import parse_rota as parse_rota
    from escalation.rota_file import read_config_file as read_config_file

_LOADERS = ("load_rota", "parse_rota", "read_config_file")


def __getattr__(name: str) -> Any:
    if name in _LOADERS:
        from escalation import rota_file

        return getattr(rota_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
