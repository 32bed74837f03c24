"""Claims over the JSON API: list, read (with events and signed evidence links), transition.

Transitions go through handlers.claims.workflow, the same rules as the staff chat
commands; a refused one answers 422 naming the allowed actions and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.core.media import MediaLinks
from bot.ids import order_key
from bot.web.api.base import int_param
from bot.web.api.input import json_object
from bot.web.errors import ApiError
from handlers.claims import workflow as wf
from storage.db import Database
from storage.limits import INT32_MAX
from storage.models import ClaimEvidence
from storage.repos import claims as repo
from storage.repos import staff as staff_repo

_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4"}


def claim_ref(request: web.Request) -> str:
    """`CLM-2026-000017` or a bare sequence; more digits than any claim number has is 400."""
    ref = request.match_info["id"]
    if sum(c.isdigit() for c in ref) > 19 or len(ref) > 40:
        raise ApiError(400, "id is not a claim number", "id")
    return ref


class ClaimsApi:
    def __init__(self, db: Database, links: MediaLinks, wake: Callable[[], None] | None = None) -> None:
        self.db = db
        self.links = links
        self.wake = wake

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/claims", self.list_claims),
            web.get("/api/claims/{id}", self.get_claim),
            web.post("/api/claims/{id}/transition", self.transition),
        ]

    def media_url(self, ev: ClaimEvidence) -> str:
        return self.links.url(ev.sha256, filename=f"{ev.sha256[:12]}{_EXT.get(ev.mime, '')}")

    async def _one(self, session: Any, claim: Any) -> dict[str, Any]:
        keys = await repo.client_keys(session, [claim])
        return repo.claim_json(claim, client_key=keys.get(claim.client_id or -1), media_url=self.media_url)

    async def list_claims(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 50)
        state = request.query.get("state")
        if state and state not in wf.STATES:
            raise ApiError(422, f"state must be one of {', '.join(wf.STATES)}", "state")
        order = request.query.get("order")
        async with self.db.read() as session:
            try:
                rows, nxt = await repo.list_claims(
                    session,
                    limit=limit,
                    cursor=request.query.get("cursor"),
                    state=state,
                    client_key=request.query.get("client"),
                    order_key=order_key(order) if order else None,
                    order_number=order,
                    sku=request.query.get("sku"),
                )
            except ValueError:
                raise ApiError(400, "invalid cursor", "cursor") from None
            keys = await repo.client_keys(session, rows)
            items = [
                repo.claim_json(c, client_key=keys.get(c.client_id or -1), media_url=self.media_url)
                for c in rows
            ]
        return web.json_response({"items": items, "next": nxt})

    async def get_claim(self, request: web.Request) -> web.Response:
        async with self.db.read() as session:
            claim = await repo.find(session, claim_ref(request))
            if claim is None:
                raise ApiError(404, "no such claim")
            body = await self._one(session, claim)
        return web.json_response(body)

    async def transition(self, request: web.Request) -> web.Response:
        ref = claim_ref(request)
        data = await json_object(request)
        action = data.get("action")
        if not isinstance(action, str) or not action:
            raise ApiError(422, f"action is required: one of {', '.join(wf.ACTIONS)}", "action")
        by = data.get("by")
        if not isinstance(by, str) or not by:
            raise ApiError(422, "by (the acting staff member's key) is required", "by")
        note = data.get("note") or data.get("reason") or data.get("question") or ""
        if not isinstance(note, str):
            raise ApiError(422, "note must be a string", "note")
        qty = data.get("qty")
        if qty is not None and (not isinstance(qty, int) or isinstance(qty, bool)):
            raise ApiError(422, "qty must be an integer", "qty")
        if qty is not None and not -INT32_MAX <= qty <= INT32_MAX:
            raise ApiError(400, "qty is out of range", "qty")
        responsibility = data.get("responsibility")
        if responsibility is not None and not isinstance(responsibility, str):
            raise ApiError(422, "responsibility must be a string", "responsibility")
        async with self.db.write() as session:
            member = await staff_repo.get(session, by)
            if member is None or not member.active:
                raise ApiError(422, f"{by!r} is not registered staff", "by")
            claim = await repo.find(session, ref, lock=True)
            if claim is None:
                raise ApiError(404, "no such claim")
            result = await wf.transition(
                session,
                claim,
                action,
                by=f"staff:{member.key}",
                note=note,
                qty=qty,
                responsibility=responsibility,
            )
            if not result.ok:
                # A refusal has written nothing; the answer names what is allowed now.
                return web.json_response(
                    {
                        "error": result.message,
                        "field": result.field or "action",
                        "state": claim.state,
                        "allowed": result.allowed,
                    },
                    status=422,
                )
            await repo.get(session, claim.id)
            body = await self._one(session, claim)
        if self.wake:
            self.wake()
        return web.json_response(body)
