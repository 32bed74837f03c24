"""A fake Telegram Bot API on 127.0.0.1: speaks the HTTP API python-telegram-bot calls.

It records every call (method, form fields, uploaded files), serves getFile and the
file downloads, and can be scripted to fail (`fail_next`) the way Telegram does:
HTTP 500s, or 429 with `parameters.retry_after`.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.base import Recorder


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    ok: bool = True


class FakeTelegram(Recorder[Call]):
    def __init__(self, token: str = "123456:TEST-token") -> None:
        super().__init__()
        self.token = token
        self.files: dict[str, bytes] = {}
        self.file_sizes: dict[str, int] = {}
        self._failures: dict[str, list[tuple[int, dict[str, Any], int | None]]] = {}
        self._ids = itertools.count(1000)
        self.server: TestServer | None = None

    # ---- scripting -----------------------------------------------------------------------------

    def add_file(self, file_id: str, data: bytes, *, reported_size: int | None = None) -> None:
        self.files[file_id] = data
        self.file_sizes[file_id] = reported_size if reported_size is not None else len(data)

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str = "Internal Server Error",
        chat_id: int | None = None,
    ) -> None:
        """The next `times` calls of `method` fail; with `chat_id`, only calls to that chat (the
        order of sends to different chats is the dispatcher's, not the test's)."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
            body["description"] = f"Too Many Requests: retry after {retry_after}"
        self._failures.setdefault(method, []).extend([(status, body, chat_id)] * times)

    def fail_always(self, method: str, status: int = 500) -> None:
        self.fail_next(method, status, times=10_000)

    def heal(self) -> None:
        self._failures.clear()

    # ---- reading what happened -------------------------------------------------------------------

    def sent(self, method: str | None = None, *, ok_only: bool = True) -> list[Call]:
        send_methods = {
            "sendMessage",
            "sendPhoto",
            "sendDocument",
            "editMessageText",
            "editMessageReplyMarkup",
        }
        return [
            c
            for c in self.calls
            if (c.method == method if method else c.method in send_methods) and (c.ok or not ok_only)
        ]

    def texts_to(self, chat_id: int | str) -> list[str]:
        return [
            str(c.params.get("text") or c.params.get("caption") or "")
            for c in self.sent()
            if str(c.params.get("chat_id")) == str(chat_id)
        ]

    async def wait_sent(self, count: int, method: str | None = None, timeout: float = 10.0) -> list[Call]:
        await self.wait_for(lambda f: len(f.sent(method)) >= count, timeout)
        return self.sent(method)

    # ---- server ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            params = await request.json()
        elif request.body_exists:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = value
        for key in ("reply_markup", "photo", "document"):
            if isinstance(params.get(key), str) and params[key].startswith(("{", "[")):
                params[key] = json.loads(params[key])
        failures = self._failures.get(method, [])
        chat = str(params.get("chat_id", ""))
        for i, (status, body, only_chat) in enumerate(failures):
            if only_chat is None or str(only_chat) == chat:
                del failures[i]
                await self._record(Call(method, params, files, ok=False))
                return web.json_response(body, status=status)
        await self._record(Call(method, params, files))
        return web.json_response({"ok": True, "result": self._result(method, params, files)})

    def _result(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method == "getMe":
            return {"id": 123456, "is_bot": True, "first_name": "Factory Bot", "username": "factory_bot"}
        if method == "getFile":
            file_id = str(params["file_id"])
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": self.file_sizes.get(file_id, 0),
                "file_path": f"photos/{file_id}.jpg",
            }
        if method in {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}:
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._ids)),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "Factory Bot"},
            }
            if "text" in params:
                message["text"] = params["text"]
            if "caption" in params:
                message["caption"] = params["caption"]
            if method == "sendPhoto":
                message["photo"] = [
                    {"file_id": "sent-photo", "file_unique_id": "sp", "width": 1, "height": 1}
                ]
            if method == "sendDocument":
                message["document"] = {"file_id": "sent-doc", "file_unique_id": "sd", "file_name": "doc"}
            return message
        return True

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].split("/")[-1].rsplit(".", 1)[0]
        data = self.files.get(file_id)
        if data is None:
            return web.Response(status=404)
        await self._record(Call("download", {"file_id": file_id}))
        return web.Response(body=data, content_type="image/jpeg")


# ---- Update payloads as Telegram sends them ------------------------------------------------------

_update_ids = itertools.count(int(time.time()) % 100_000 * 1000)


def next_update_id() -> int:
    return next(_update_ids)


def user(chat_id: int, first_name: str = "Anna", language_code: str | None = "en") -> dict[str, Any]:
    data: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
    if language_code:
        data["language_code"] = language_code
    return data


def business_update(chat_id: int, connection: str, **message: Any) -> dict[str, Any]:
    """A client's message to a business account the bot serves (Bot API `business_message`)."""
    update = message_update(chat_id, **message)
    update["business_message"] = {**update.pop("message"), "business_connection_id": connection}
    return update


def message_update(
    chat_id: int,
    *,
    text: str | None = None,
    update_id: int | None = None,
    caption: str | None = None,
    photo_file_id: str | None = None,
    photo_size: int = 1000,
    document: dict[str, Any] | None = None,
    media_group_id: str | None = None,
    reply_to_message_id: int | None = None,
    first_name: str = "Anna",
) -> dict[str, Any]:
    uid = update_id if update_id is not None else next_update_id()
    msg: dict[str, Any] = {
        "message_id": uid % 1_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
        "from": user(chat_id, first_name),
    }
    if text is not None:
        msg["text"] = text
    if caption is not None:
        msg["caption"] = caption
    if photo_file_id is not None:
        msg["photo"] = [
            {
                "file_id": f"{photo_file_id}-small",
                "file_unique_id": "s",
                "width": 90,
                "height": 67,
                "file_size": 900,
            },
            {
                "file_id": photo_file_id,
                "file_unique_id": "b",
                "width": 1280,
                "height": 960,
                "file_size": photo_size,
            },
        ]
    if document is not None:
        msg["document"] = document
    if media_group_id is not None:
        msg["media_group_id"] = media_group_id
    if reply_to_message_id is not None:
        msg["reply_to_message"] = {
            "message_id": reply_to_message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 123456, "is_bot": True, "first_name": "Factory Bot"},
            "text": "earlier",
        }
    return {"update_id": uid, "message": msg}


def callback_update(
    chat_id: int, data: str, *, message_id: int = 1, update_id: int | None = None
) -> dict[str, Any]:
    uid = update_id if update_id is not None else next_update_id()
    return {
        "update_id": uid,
        "callback_query": {
            "id": f"cq{uid}",
            "from": user(chat_id),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "Factory Bot"},
                "text": "menu",
            },
        },
    }
