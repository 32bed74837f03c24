"""The JSON API: bearer auth, one error shape, list pagination `{"items": [...], "next": ...}`."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy.exc import DataError

from bot.core.media import MediaLinks
from bot.states import ConversationState, Priority
from bot.web.api.input import db_int, looks_numeric
from bot.web.errors import ApiError, json_error
from storage.db import Database
from storage.models import AttachmentRow
from storage.repos import conversations, messages

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_auth(token: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        if not token or not hmac.compare_digest(given.encode(), expected.encode()):
            return json_error(401, "missing or wrong bearer token")
        try:
            return await handler(request)
        except ApiError as exc:
            return json_error(exc.status, exc.error, exc.field)
        except (DataError, OverflowError) as exc:
            # The last line of defence: input checks (bot/api_input.py) should have caught a value
            # the column cannot hold (PostgreSQL DataError, SQLite OverflowError); never a 500.
            log.warning(
                "%s %s: value out of range for the database (%s)",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return json_error(400, "a value is out of range", "request")

    return middleware


def int_param(request: web.Request, name: str, default: int, *, lo: int = 1, hi: int = 500) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = _signed(raw, name)
    if not lo <= value <= hi:
        raise ApiError(422, f"{name} must be between {lo} and {hi}", name)
    return value


def _signed(raw: str, name: str) -> int:
    """An integer query value; one too long for 64 bits is malformed (400), not merely out of bounds."""
    text = raw.strip()
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if not looks_numeric(digits):
        raise ApiError(400, f"{name} must be an integer", name)
    return -db_int(digits, name) if sign else db_int(digits, name)


def path_id(request: web.Request, name: str = "id") -> int:
    """A numeric path id: not a number is 404 (no such resource), too big a number 400."""
    raw = request.match_info[name]
    if not looks_numeric(raw):
        raise ApiError(404, "not found")
    return db_int(raw, name)


class Api:
    def __init__(self, db: Database, links: MediaLinks) -> None:
        self.db = db
        self.links = links

    def media_url(self, att: AttachmentRow) -> str | None:
        return self.links.url(att.sha256, filename=att.filename) if att.sha256 else None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/conversations", self.list_conversations),
            web.get("/api/conversations/{id}/messages", self.list_messages),
        ]

    async def list_conversations(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 50)
        state = request.query.get("state")
        if state and state not in set(ConversationState):
            raise ApiError(422, "state must be bot, with_staff or closed", "state")
        priority = request.query.get("priority")
        if priority and priority not in set(Priority):
            raise ApiError(422, "priority must be normal or urgent", "priority")
        async with self.db.read() as session:
            try:
                rows, nxt = await conversations.list_conversations(
                    session,
                    limit=limit,
                    cursor=request.query.get("cursor"),
                    state=state,
                    priority=priority,
                    channel=request.query.get("channel"),
                )
            except ValueError:
                raise ApiError(400, "invalid cursor", "cursor") from None
            return web.json_response(
                {"items": [conversations.conversation_json(c) for c in rows], "next": nxt}
            )

    async def list_messages(self, request: web.Request) -> web.Response:
        conv_id = path_id(request)
        limit = int_param(request, "limit", 50)
        cursor = request.query.get("cursor")
        before = db_int(cursor, "cursor") if cursor else None
        async with self.db.read() as session:
            if await conversations.get_conversation(session, conv_id) is None:
                raise ApiError(404, "no such conversation")
            rows, nxt = await messages.list_messages(session, conv_id, limit=limit, before_id=before)
            return web.json_response(
                {
                    "items": [messages.message_json(m, self.media_url) for m in rows],
                    "next": str(nxt) if nxt is not None else None,
                }
            )
