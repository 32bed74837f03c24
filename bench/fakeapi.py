"""A fake Telegram Bot API in its own process: answers like Telegram and notes when each send arrived.

It is the client's phone (and the on-call phone) for the benchmark: the time a reply
reaches it is the time a client would see the reply. Arrival times are
`time.monotonic()`, which on Linux is one clock for every process on the machine, so
the load generator can subtract its own send times from them.

    python -m bench.fakeapi PORT

`GET /_replies?after=N` returns the sends recorded after the N-th, as
`[[chat_id, monotonic_seconds, text], ...]`; `POST /_reset` forgets them.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import Any

from aiohttp import web

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


class FakeBotApi:
    def __init__(self) -> None:
        self.sends: list[tuple[str, float, str]] = []
        self._ids = itertools.count(1000)

    async def method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params = await _params(request)
        at = time.monotonic()
        chat = str(params.get("chat_id", ""))
        message_id = next(self._ids)
        if name in SEND_METHODS:
            self.sends.append((chat, at, str(params.get("text") or params.get("caption") or "")))
        result: Any = True
        if name in SEND_METHODS or name == "editMessageText":
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else 0, "type": "private"},
                "text": str(params.get("text", "")),
            }
        elif name == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
        return web.json_response({"ok": True, "result": result})

    async def replies(self, request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response(self.sends[after:])

    async def reset(self, _request: web.Request) -> web.Response:
        self.sends.clear()
        return web.json_response({"ok": True})


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = json.loads(await request.read() or b"{}")
        return data if isinstance(data, dict) else {}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def app() -> web.Application:
    fake = FakeBotApi()
    application = web.Application(client_max_size=64 * 1024 * 1024)
    application.router.add_get("/_replies", fake.replies)
    application.router.add_post("/_reset", fake.reset)
    application.router.add_post("/bot{token}/{method}", fake.method)
    return application


if __name__ == "__main__":
    web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
