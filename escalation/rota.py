"""The on-call rota: loading `config/rota.toml` and answering "who is on call at t".

Everything here is pure (no clock, no database): the caller passes the instant, so
tests can ask about 3 a.m. on the night clocks change without waiting for it.
Hand-offs happen at a wall-clock time in the rotation's time zone, so a 09:00
hand-off stays at 09:00 local across daylight-saving changes; `zoneinfo` does the
arithmetic.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import SOURCE_LANGUAGE, available_languages

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


# ---- loading -------------------------------------------------------------------------------------


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of the escalation set-up (rota, keywords, FAQ); mistakes name the file."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RotaError(file, "file", "not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RotaError(file, "file", f"invalid TOML: {exc}") from None


def load_rota(path: str | Path) -> Rota:
    return parse_rota(read_config_file(path), str(path))


def _zone(file: str, entry: str, name: Any) -> str:
    if not isinstance(name, str):
        raise RotaError(file, entry, "timezone must be a string such as 'Asia/Shanghai'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RotaError(file, entry, f"unknown time zone {name!r}") from None
    return name


def _instant(file: str, entry: str, value: Any, zone: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RotaError(file, entry, f"bad time {value!r} (use 2026-12-24T18:00)") from None
    else:
        raise RotaError(file, entry, f"bad time {value!r} (use 2026-12-24T18:00)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(UTC)


def _language(file: str, entry: str, value: object) -> str:
    """A language staff read must have a catalog: a typo would silently page them in English."""
    known = available_languages()
    if not isinstance(value, str) or value not in known:
        raise RotaError(file, entry, f"unknown language {value!r}; one of {', '.join(known)}")
    return value


def parse_rota(raw: dict[str, Any], file: str = "rota.toml") -> Rota:
    known = {"timezone", "staff", "rotations", "overrides", "policies", "routing", "holiday_rotation"}
    for key in raw:
        if key not in known:
            raise RotaError(file, key, "unknown entry")
    zone = _zone(file, "timezone", raw.get("timezone", "UTC"))

    staff: dict[str, StaffMember] = {}
    for key, body in (raw.get("staff") or {}).items():
        entry = f"staff.{key}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        unknown = set(body) - {"name", "roles", "timezone", "language", *CONTACT_FIELDS}
        if unknown:
            raise RotaError(file, entry, f"unknown key {sorted(unknown)[0]!r}")
        if not any(body.get(f) for f in CONTACT_FIELDS):
            raise RotaError(file, entry, "needs telegram_chat_id, whatsapp, email or wechat to be paged")
        roles = body.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise RotaError(file, f"{entry}.roles", "must be a list of strings")
        wa = body.get("whatsapp")
        if wa is not None and not (isinstance(wa, str) and wa.startswith("whatsapp:+")):
            raise RotaError(file, f"{entry}.whatsapp", "must look like whatsapp:+8613800000001")
        tg = body.get("telegram_chat_id")
        if tg is not None and not (isinstance(tg, int) or (isinstance(tg, str) and tg.lstrip("-").isdigit())):
            raise RotaError(file, f"{entry}.telegram_chat_id", "must be a number")
        staff[key] = StaffMember(
            key=key,
            name=str(body.get("name") or key),
            telegram_chat_id=str(tg) if tg is not None else None,
            whatsapp=wa,
            email=str(body["email"]).lower() if body.get("email") else None,
            wechat=body.get("wechat"),
            roles=tuple(roles),
            timezone=_zone(file, f"{entry}.timezone", body["timezone"]) if body.get("timezone") else None,
            language=_language(file, f"{entry}.language", body.get("language", SOURCE_LANGUAGE)),
            order=tuple(k for k in body if k in CONTACT_FIELDS),
        )
    if not staff:
        raise RotaError(file, "staff", "no staff defined")

    rotations: dict[str, Rotation] = {}
    for name, body in (raw.get("rotations") or {}).items():
        entry = f"rotations.{name}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        unknown = set(body) - {"members", "period", "handoff", "start", "end", "timezone"}
        if unknown:
            raise RotaError(file, entry, f"unknown key {sorted(unknown)[0]!r}")
        members = body.get("members")
        if not isinstance(members, list) or not members:
            raise RotaError(file, f"{entry}.members", "must be a non-empty list of staff keys")
        for m in members:
            if m not in staff:
                raise RotaError(file, f"{entry}.members", f"unknown staff key {m!r}")
        period = body.get("period", "weekly")
        if period not in {"daily", "weekly"}:
            raise RotaError(file, f"{entry}.period", f"must be 'daily' or 'weekly', got {period!r}")
        handoff_raw = body.get("handoff", "09:00")
        try:
            handoff = handoff_raw if isinstance(handoff_raw, time) else time.fromisoformat(str(handoff_raw))
        except ValueError:
            raise RotaError(file, f"{entry}.handoff", f"bad time {handoff_raw!r} (use HH:MM)") from None
        dates: dict[str, date | None] = {}
        for k in ("start", "end"):
            v = body.get(k)
            if v is None:
                if k == "start":
                    raise RotaError(file, f"{entry}.start", "required (a date such as 2026-11-30)")
                dates[k] = None
                continue
            try:
                dates[k] = v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(v)
            except (TypeError, ValueError):
                raise RotaError(file, f"{entry}.{k}", f"bad date {v!r} (use YYYY-MM-DD)") from None
        start_day, end_day = dates["start"], dates["end"]
        assert start_day is not None  # required above
        if end_day is not None and end_day < start_day:
            raise RotaError(file, f"{entry}.end", "ends before it starts")
        rotations[name] = Rotation(
            name=name,
            members=tuple(members),
            period=period,
            handoff=handoff.replace(tzinfo=None),
            start=start_day,
            end=end_day,
            timezone=_zone(file, f"{entry}.timezone", body.get("timezone", zone)),
        )

    overrides: list[Override] = []
    for i, body in enumerate(raw.get("overrides") or []):
        entry = f"overrides[{i}]"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        rot = body.get("rotation")
        if rot not in rotations:
            raise RotaError(file, f"{entry}.rotation", f"unknown rotation {rot!r}")
        if body.get("staff") not in staff:
            raise RotaError(file, f"{entry}.staff", f"unknown staff key {body.get('staff')!r}")
        start = _instant(file, f"{entry}.start", body.get("start"), rotations[rot].timezone)
        end = _instant(file, f"{entry}.end", body.get("end"), rotations[rot].timezone)
        if end <= start:
            raise RotaError(file, entry, "end must be after start")
        overrides.append(Override(rot, body["staff"], start, end))

    policies: dict[str, Policy] = {}
    for name, body in (raw.get("policies") or {}).items():
        entry = f"policies.{name}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        levels_raw = body.get("levels")
        if not isinstance(levels_raw, list) or not levels_raw:
            raise RotaError(file, f"{entry}.levels", "must be a non-empty list")
        levels: list[Level] = []
        previous = -1.0
        for j, lv in enumerate(levels_raw):
            lentry = f"{entry}.levels[{j}]"
            notify = lv.get("notify") if isinstance(lv, dict) else None
            if not isinstance(notify, list) or not notify:
                raise RotaError(file, f"{lentry}.notify", "must be a non-empty list")
            for target in notify:
                _check_target(file, f"{lentry}.notify", target, staff, rotations)
            after = lv.get("after_seconds", 0)
            if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
                raise RotaError(file, f"{lentry}.after_seconds", "must be a number of seconds >= 0")
            if after < previous:
                raise RotaError(file, f"{lentry}.after_seconds", "levels must not go back in time")
            previous = float(after)
            levels.append(Level(tuple(notify), float(after)))
        rounds = body.get("rounds", 1)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise RotaError(file, f"{entry}.rounds", "must be an integer >= 1")
        timeout = body.get("ack_timeout_seconds")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
            raise RotaError(file, f"{entry}.ack_timeout_seconds", "must be a number of seconds")
        policies[name] = Policy(name, tuple(levels), rounds, float(timeout) if timeout is not None else None)
    if not policies:
        raise RotaError(file, "policies", "no policies defined")

    routing: dict[str, str] = {}
    for reason, pname in (raw.get("routing") or {}).items():
        if pname not in policies:
            raise RotaError(file, f"routing.{reason}", f"unknown policy {pname!r}")
        routing[reason] = pname

    holiday = raw.get("holiday_rotation")
    if holiday is not None and holiday not in rotations:
        raise RotaError(file, "holiday_rotation", f"unknown rotation {holiday!r}")
    return Rota(zone, staff, rotations, overrides, policies, routing, source=file, holiday_rotation=holiday)


def _check_target(
    file: str, entry: str, target: Any, staff: dict[str, StaffMember], rotations: dict[str, Rotation]
) -> None:
    kind, _, name = str(target).partition(":")
    if kind == "rotation" and name in rotations:
        return
    if kind == "staff" and name in staff:
        return
    if kind == "role" and any(name in s.roles for s in staff.values()):
        return
    raise RotaError(file, entry, f"{target!r} names no rotation, staff member or role")
