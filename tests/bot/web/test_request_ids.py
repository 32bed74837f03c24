"""The request id reaches the log context and comes back to the caller."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.core import logs
from bot.web.request_ids import request_ids


async def _seen(_request: web.Request) -> web.Response:
    return web.Response(text=logs.request_id.get())


async def test_the_callers_id_is_kept_and_a_missing_one_is_made() -> None:
    app = web.Application(middlewares=[request_ids])
    app.router.add_get("/", _seen)
    async with TestClient(TestServer(app)) as client:
        given = await client.get("/", headers={"X-Request-Id": "abc-123"})
        assert given.headers["X-Request-Id"] == "abc-123" and await given.text() == "abc-123"
        made = await client.get("/")
        rid = made.headers["X-Request-Id"]
        assert len(rid) == 16 and await made.text() == rid
        long = await client.get("/", headers={"X-Request-Id": "x" * 500})
        assert long.headers["X-Request-Id"] == "x" * 64  # bounded: a header never floods the logs
