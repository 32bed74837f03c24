"""On-call coverage, holidays included: the hours in the next days when a page would reach nobody.

The rota's own check covers every rotation a policy pages. With a `holiday_rotation` the
pages of a public holiday or closure day go to that rotation first, so its hours on those
days must be covered too; a gap there is reported with the holiday's name (the page would
still fall back to the regular rotation, but whoever is on it is likely on holiday).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalation.calendar import Calendar
from escalation.rota import Rota


def bind_calendar(rota: Rota, calendar: Calendar) -> None:
    """Let the rota ask whether the factory is off at an instant (holiday rotation routing)."""
    rota.day_off = calendar.day_off


def holiday_gaps(
    rota: Rota, calendar: Calendar, now: datetime, days: int = 14, step: timedelta = timedelta(hours=1)
) -> list[dict[str, str]]:
    holiday = rota.holiday_rotation
    if holiday is None:
        return []
    gaps: list[dict[str, str]] = []
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    start = aware.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=days)
    open_gap: tuple[datetime, str] | None = None
    t = start
    while t < end:
        name = calendar.day_off(t)
        uncovered = name is not None and rota.on_call(holiday, t) is None
        if open_gap is not None and (not uncovered or name != open_gap[1]):
            gaps.append(_gap(holiday, open_gap, t))
            open_gap = None
        if uncovered and open_gap is None and name is not None:
            open_gap = (t, name)
        t += step
    if open_gap is not None:
        gaps.append(_gap(holiday, open_gap, end))
    return gaps


def _gap(rotation: str, opened: tuple[datetime, str], until: datetime) -> dict[str, str]:
    return {
        "rotation": rotation,
        "from": opened[0].isoformat(),
        "until": until.isoformat(),
        "holiday": opened[1],
    }


def coverage_gaps(
    rota: Rota, calendar: Calendar | None, now: datetime, days: int = 14
) -> list[dict[str, str]]:
    gaps = rota.coverage_gaps(now, days)
    if calendar is not None:
        gaps += holiday_gaps(rota, calendar, now, days)
    return gaps
