"""JSON API for the reports: response times of escalations, cycle times and defect rates of claims."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from aiohttp import web

from bot.web.errors import ApiError
from storage.db import Database
from storage.repos import reports


def parse_since(raw: str | None) -> datetime | None:
    """`YYYY-MM-DD` (midnight UTC) or an ISO 8601 time; None (everything) when absent."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(400, "since must be a date (YYYY-MM-DD) or an ISO 8601 time", "since") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class ReportsApi:
    def __init__(self, db: Database) -> None:
        self.db = db

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/reports/escalations", self.escalations),
            web.get("/api/reports/claims", self.claims),
        ]

    async def escalations(self, request: web.Request) -> web.Response:
        since = parse_since(request.query.get("since"))
        async with self.db.read() as session:
            report = await reports.escalation_report(session, since)
        return web.json_response(report.as_json())

    async def claims(self, request: web.Request) -> web.Response:
        since = parse_since(request.query.get("since"))
        async with self.db.read() as session:
            report = await reports.claim_report(session, since)
        return web.json_response(report.as_json())
