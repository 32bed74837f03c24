"""The factory calendar: public holidays (the `holidays` package) and the factory's own closures.

Read from `config/calendar.toml` at start-up; a mistake stops start-up naming the file and
the entry, like the rota. Everything here is pure: callers pass the instant or the day, so a
test can ask about Chinese New Year in any month. Days are the factory's local days (the
file's `timezone`, by default the rota's), because "closed on 4 February" means Shanghai's
4 February, not UTC's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from escalation.rota import RotaError, read_config_file

ETA_WARNING_DAYS = 7  # an ETA this many days after a closure's last day still feels the closure
MAX_RANGE_DAYS = 731  # the widest range `items()` lists (two years)
_NAME_KEY = re.compile(r"^name_([a-z]{2})$")


class CalendarError(RotaError):
    """An invalid calendar file: names the file, the entry and the reason, and stops start-up."""


@dataclass(frozen=True)
class Closure:
    """A factory shut-down, `start` to `end` inclusive."""

    name: str
    start: date
    end: date
    names: tuple[tuple[str, str], ...] = ()  # (language, name) from `name_zh = "春节"`

    @property
    def reopens(self) -> date:
        """The first working day: the day after the last closed day."""
        return self.end + timedelta(days=1)

    @property
    def key(self) -> str:
        """What "this closure" means when we remember a conversation was told about it."""
        return f"{self.start.isoformat()}:{self.name}"[:160]

    def name_in(self, language: str) -> str:
        return dict(self.names).get(language, self.name)

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class CalendarItem:
    name: str
    start: date
    end: date
    kind: Literal["holiday", "closure"]

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": self.kind,
        }


@dataclass
class Calendar:
    timezone: str = "UTC"
    country: str = ""
    closures: tuple[Closure, ...] = ()
    source: str = ""
    _holidays: holidays.HolidayBase | None = field(default=None, repr=False, compare=False)

    # ---- one day ----------------------------------------------------------------------------------

    def local_day(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.timezone)).date()

    def closure_on(self, day: date) -> Closure | None:
        return next((c for c in self.closures if c.covers(day)), None)

    def closure_at(self, at: datetime) -> Closure | None:
        return self.closure_on(self.local_day(at))

    def holiday_on(self, day: date) -> str | None:
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name else None

    def day_off(self, at: datetime) -> str | None:
        """The closure's or the public holiday's name if the factory is off at `at`, else None."""
        day = self.local_day(at)
        closure = self.closure_on(day)
        return closure.name if closure is not None else self.holiday_on(day)

    def closure_near(self, day: date, after_days: int = ETA_WARNING_DAYS) -> Closure | None:
        """The closure `day` falls in, or that ended at most `after_days` before it (an ETA's risk)."""
        return next((c for c in self.closures if c.start <= day <= c.end + timedelta(days=after_days)), None)

    # ---- ranges -----------------------------------------------------------------------------------

    def closures_between(self, start: date, end: date) -> list[Closure]:
        """Closures that overlap `start`..`end` (inclusive), in order."""
        return sorted((c for c in self.closures if c.start <= end and c.end >= start), key=lambda c: c.start)

    def holidays_between(self, start: date, end: date) -> list[CalendarItem]:
        """Public holidays, consecutive days of one name merged into one item."""
        items: list[CalendarItem] = []
        for day in _days(start, end):
            name = self.holiday_on(day)
            if name is None:
                continue
            last = items[-1] if items else None
            if last is not None and last.name == name and last.end == day - timedelta(days=1):
                items[-1] = CalendarItem(name, last.start, day, "holiday")
            else:
                items.append(CalendarItem(name, day, day, "holiday"))
        return items

    def items(self, start: date, end: date) -> list[CalendarItem]:
        """What `GET /api/calendar` lists: holidays and closures overlapping the range, by start."""
        if end < start:
            raise ValueError("the range ends before it starts")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValueError(f"the range is longer than {MAX_RANGE_DAYS} days")
        closures = [
            CalendarItem(c.name, c.start, c.end, "closure") for c in self.closures_between(start, end)
        ]
        merged = [*self.holidays_between(start, end), *closures]
        return sorted(merged, key=lambda i: (i.start, i.kind, i.name))


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


# ---- loading ---------------------------------------------------------------------------------------


def load_calendar(path: str | Path, default_timezone: str = "UTC") -> Calendar:
    try:
        raw = read_config_file(path)
    except RotaError as exc:
        raise CalendarError(exc.file, exc.entry, exc.reason) from None
    return parse_calendar(raw, str(path), default_timezone)


def _date(file: str, entry: str, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(file, entry, f"bad date {value!r} (use 2027-02-04)")


def _country(file: str, code: Any) -> holidays.HolidayBase | None:
    if code in (None, ""):
        return None
    if not isinstance(code, str):
        raise CalendarError(file, "country", "must be a country code such as 'CN'")
    try:
        probe = holidays.country_holidays(code)
    except NotImplementedError:
        raise CalendarError(file, "country", f"unknown country code {code!r}") from None
    language = "en_US" if "en_US" in (probe.supported_languages or ()) else None
    return holidays.country_holidays(code, language=language)


def _closure(file: str, entry: str, body: Any) -> Closure:
    if not isinstance(body, dict):
        raise CalendarError(file, entry, "must be a table with name, start and end")
    unknown = [k for k in body if k not in {"name", "start", "end"} and not _NAME_KEY.match(k)]
    if unknown:
        raise CalendarError(file, entry, f"unknown key {sorted(unknown)[0]!r}")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CalendarError(file, f"{entry}.name", "required (such as 'Chinese New Year')")
    for k in ("start", "end"):
        if k not in body:
            raise CalendarError(file, f"{entry}.{k}", "required (a date such as 2027-02-04)")
    start = _date(file, f"{entry}.start", body["start"])
    end = _date(file, f"{entry}.end", body["end"])
    if end < start:
        raise CalendarError(file, f"{entry}.end", "ends before it starts")
    names: list[tuple[str, str]] = []
    for k, v in body.items():
        match = _NAME_KEY.match(k)
        if match is None:
            continue
        if not isinstance(v, str) or not v.strip():
            raise CalendarError(file, f"{entry}.{k}", "must be a non-empty string")
        names.append((match.group(1), v.strip()))
    return Closure(name.strip(), start, end, tuple(names))


def parse_calendar(
    raw: dict[str, Any], file: str = "calendar.toml", default_timezone: str = "UTC"
) -> Calendar:
    for key in raw:
        if key not in {"country", "timezone", "closures"}:
            raise CalendarError(file, key, "unknown entry")
    zone = raw.get("timezone", default_timezone)
    try:
        if not isinstance(zone, str):
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(file, "timezone", f"unknown time zone {zone!r}") from None
    closures_raw = raw.get("closures", [])
    if not isinstance(closures_raw, list):
        raise CalendarError(file, "closures", "must be an array of tables ([[closures]])")
    closures: list[Closure] = []
    for i, body in enumerate(closures_raw):
        closure = _closure(file, f"closures[{i}]", body)
        for j, other in enumerate(closures):
            if closure.start <= other.end and closure.end >= other.start:
                raise CalendarError(file, f"closures[{i}]", f"overlaps closures[{j}] ({other.name})")
        closures.append(closure)
    return Calendar(
        timezone=zone,
        country=str(raw.get("country") or ""),
        closures=tuple(sorted(closures, key=lambda c: c.start)),
        source=file,
        _holidays=_country(file, raw.get("country")),
    )
