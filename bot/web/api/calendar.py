"""`GET /api/calendar?from=DATE&to=DATE`: public holidays and factory closures in a range.

Both ends inclusive; `from` defaults to the factory's today and `to` to a year later. A range
longer than two years is refused (400) rather than computed, and so is a bad date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from aiohttp import web

from bot.web.errors import ApiError
from escalation.calendar import MAX_RANGE_DAYS, Calendar


def _date_param(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date such as 2027-02-04", name) from None


class CalendarApi:
    def __init__(self, calendar: Calendar, clock: Callable[[], datetime]) -> None:
        self.calendar = calendar
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/calendar", self.list_items)]

    async def list_items(self, request: web.Request) -> web.Response:
        start = _date_param(request, "from", self.calendar.local_day(self.clock()))
        end = _date_param(request, "to", start + timedelta(days=365))
        if end < start:
            raise ApiError(400, "to must not be before from", "to")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ApiError(400, "the range may cover at most two years", "to")
        items = self.calendar.items(start, end)
        return web.json_response({"items": [item.as_json() for item in items]})
