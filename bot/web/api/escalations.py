"""JSON API for escalations and the rota: list, acknowledge, who is on call at a given time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from bot.ids import parse_escalation
from bot.states import EscalationState
from bot.web.api.base import int_param
from bot.web.api.input import json_object, looks_numeric
from bot.web.errors import ApiError
from escalation.runtime import EscalationRuntime
from storage.db import Database
from storage.repos import escalations as repo

STATES = set(EscalationState)


class EscalationApi:
    def __init__(self, db: Database, escalation: EscalationRuntime) -> None:
        self.db = db
        self.escalation = escalation

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/escalations", self.list_escalations),
            web.get("/api/escalations/{id}", self.get_escalation),
            web.post("/api/escalations/{id}/ack", self.acknowledge),
            web.get("/api/oncall", self.oncall),
        ]

    def _id(self, request: web.Request) -> int:
        raw = request.match_info["id"]
        esc_id = parse_escalation(raw)
        if esc_id is None:
            if looks_numeric(raw.upper().removeprefix("ESC").removeprefix("-")):
                raise ApiError(400, "id is out of range", "id")  # digits, too many of them
            raise ApiError(404, "not found")
        return esc_id

    async def list_escalations(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 50)
        state = request.query.get("state")
        if state and state not in STATES:
            raise ApiError(422, "state must be open, acknowledged or resolved", "state")
        before = None
        if request.query.get("cursor"):
            before = parse_escalation(request.query["cursor"])
            if before is None:
                raise ApiError(400, "invalid cursor", "cursor")
        async with self.db.read() as session:
            rows, nxt = await repo.list_escalations(
                session,
                limit=limit,
                before_id=before,
                state=state,
                reason=request.query.get("reason"),
                staff=request.query.get("staff"),
            )
            stats = await repo.stats(session)
        return web.json_response(
            {
                "items": [repo.escalation_json(e) for e in rows],
                "next": str(nxt) if nxt else None,
                "stats": stats,
            }
        )

    async def get_escalation(self, request: web.Request) -> web.Response:
        esc_id = self._id(request)
        async with self.db.read() as session:
            esc = await repo.get(session, esc_id)
            if esc is None:
                raise ApiError(404, "no such escalation")
            return web.json_response(repo.escalation_json(esc))

    async def acknowledge(self, request: web.Request) -> web.Response:
        """Body `{"staff": "li"}`: who takes it (must be rota staff)."""
        esc_id = self._id(request)
        body = await json_object(request, required=False)
        staff = body.get("staff")
        if not isinstance(staff, str) or staff not in self.escalation.rota.staff:
            raise ApiError(422, "staff must be a staff key from the rota", "staff")
        async with self.db.write() as session:
            esc = await repo.lock(session, esc_id)
            if esc is None:
                raise ApiError(404, "no such escalation")
            if esc.state != EscalationState.OPEN:
                raise ApiError(409, f"escalation is already {esc.state}", "state")
            await self.escalation.service.acknowledge(session, esc, staff, via="api")
        if self.escalation.jobs.wake:
            self.escalation.jobs.wake()
        async with self.db.read() as session:
            fresh = await repo.get(session, esc_id)
            assert fresh is not None
            return web.json_response(repo.escalation_json(fresh))

    async def oncall(self, request: web.Request) -> web.Response:
        raw = request.query.get("at")
        at = self.escalation.service.clock()
        if raw:
            try:
                at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
            except ValueError:
                raise ApiError(
                    400, "at must be an ISO 8601 time, e.g. 2026-12-24T20:00+08:00", "at"
                ) from None
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
        return web.json_response(self.escalation.rota.who(at))
