"""JSON API for orders and clients: `PUT/GET /api/orders/{number}`, `PUT/GET /api/clients/{key}`,
`POST /api/skus/{sku}/notes`.

Invalid values answer 422 naming the field and write nothing (the whole write is one
transaction that validation aborts before any change). The bearer middleware in
bot/api.py guards all of `/api/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.ids import order_key
from bot.web.api.input import json_object
from bot.web.errors import ApiError
from handlers.orders.writes import OrderInvalid, apply_order, parse_order
from storage.db import Database
from storage.repos import audit, clients, orders
from storage.repos.clients import ContactRef

CHANNELS = ("whatsapp", "telegram", "wechat", "email")
CLIENT_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def parse_client(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(422, "body must be a JSON object", "body")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ApiError(422, "name is required (at most 200 characters)", "name")
    language = data.get("language", "en")
    if language not in ("en", "zh"):
        raise ApiError(422, "language must be en or zh", "language")
    domains = data.get("email_domains", [])
    if not isinstance(domains, list) or not all(
        isinstance(d, str) and re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", d) for d in domains
    ):
        raise ApiError(422, "email_domains must be a list of domain names", "email_domains")
    contacts = data.get("contacts", [])
    if not isinstance(contacts, list):
        raise ApiError(422, "contacts must be a list", "contacts")
    refs: list[ContactRef] = []
    for i, c in enumerate(contacts):
        if not isinstance(c, dict) or c.get("channel") not in CHANNELS:
            raise ApiError(422, f"channel must be one of {', '.join(CHANNELS)}", f"contacts[{i}].channel")
        cid = c.get("id")
        if not isinstance(cid, str | int) or not str(cid).strip():
            raise ApiError(422, "id is required", f"contacts[{i}].id")
        value = str(cid).strip()
        refs.append(ContactRef(c["channel"], value.lower() if c["channel"] == "email" else value))
    return {
        "name": name.strip(),
        "language": language,
        "email_domains": [d.lower() for d in domains],
        "contacts": refs,
        "details": _details(data),
    }


def _details(data: dict[str, Any]) -> dict[str, str | None]:
    """The customs documents' optional fields: only those given change (null or "" clears)."""
    out: dict[str, str | None] = {}
    for name in clients.DETAIL_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if value is not None and (not isinstance(value, str) or len(value) > 1000):
            raise ApiError(422, f"{name} must be a string of at most 1000 characters", name)
        out[name] = (value.strip() or None) if isinstance(value, str) else None
    return out


class OrdersApi:
    def __init__(self, db: Database, after_commit: Callable[[], None] | None = None) -> None:
        self.db = db
        self.after_commit = after_commit  # wakes the outbox dispatcher for notices and briefs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.put("/api/orders/{number}", self.put_order),
            web.get("/api/orders/{number}", self.get_order),
            web.put("/api/clients/{key}", self.put_client),
            web.get("/api/clients/{key}", self.get_client),
            web.post("/api/skus/{sku}/notes", self.add_note),
        ]

    async def _order_json(self, session: Any, number: str) -> dict[str, Any] | None:
        order = await orders.by_key(session, order_key(number))
        if order is None:
            return None
        client = await clients.get_client_by_id(session, order.client_id)
        prior = await orders.prior_issues(
            session, order.client_id, [line.sku for line in order.lines], exclude_order_id=order.id
        )
        return orders.order_json(order, client.key if client else "", prior)

    async def put_order(self, request: web.Request) -> web.Response:
        number = request.match_info["number"]
        data = await json_object(request)
        try:
            inp = parse_order(data)
            async with self.db.write() as session:
                result = await apply_order(session, number, inp, by="api")
                await audit.record(
                    session, "api", "order_created" if result.created else "order_updated", f"order:{number}"
                )
        except OrderInvalid as exc:
            raise ApiError(422, exc.error, exc.field) from None
        if self.after_commit is not None:
            self.after_commit()
        async with self.db.read() as session:
            body = await self._order_json(session, number)
        return web.json_response(body, status=201 if result.created else 200)

    async def get_order(self, request: web.Request) -> web.Response:
        async with self.db.read() as session:
            body = await self._order_json(session, request.match_info["number"])
        if body is None:
            raise ApiError(404, "no such order")
        return web.json_response(body)

    async def put_client(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not CLIENT_KEY.match(key):
            raise ApiError(422, "key must be lower-case letters, digits, - or _", "key")
        values = parse_client(await json_object(request))
        async with self.db.write() as session:
            existed = await clients.get_client(session, key) is not None
            await clients.upsert_client(session, key, **values)
            await audit.record(session, "api", "client_upserted", f"client:{key}")
        async with self.db.read() as session:
            client = await clients.get_client(session, key)
            assert client is not None
            return web.json_response(clients.client_json(client), status=200 if existed else 201)

    async def get_client(self, request: web.Request) -> web.Response:
        async with self.db.read() as session:
            client = await clients.get_client(session, request.match_info["key"])
            if client is None:
                raise ApiError(404, "no such client")
            return web.json_response(clients.client_json(client))

    async def add_note(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"].strip()
        data = await json_object(request)
        note = data.get("note")
        if not isinstance(note, str) or not note.strip():
            raise ApiError(422, "note is required", "note")
        given = data.get("by")
        by = given if isinstance(given, str) and given else "api"
        if not sku or len(sku) > 64:
            raise ApiError(422, "sku must be 1–64 characters", "sku")
        async with self.db.write() as session:
            row = await orders.add_sku_note(session, sku, note, by=by)
            await audit.record(session, by, "sku_note_added", f"sku:{row.sku}", note=row.note)
            body = {"sku": row.sku, "note": row.note, "by": row.by, "at": row.at.isoformat()}
        return web.json_response(body, status=201)
