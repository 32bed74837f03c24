"""A fake WeChat Official Account API on 127.0.0.1, plus inbound XML the way WeChat pushes it.

The server speaks the four endpoints the adapter calls under `/cgi-bin/`: `token`,
`message/custom/send`, `media/upload` and `media/get`. It issues real-looking access
tokens and refuses stale ones with 40001, records every call, and can be scripted the
way WeChat fails: an errcode for the next N calls (`fail_next`), a token revoked behind
our back (`revoke_token`), or a send that blocks until the test lets it go (`block_sends`).
Inbound requests are signed and encrypted with wechatpy's own code.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.fakes.base import Recorder

APP_ID = "wx1234567890abcdef"
APP_SECRET = "test-app-secret-0123456789abcdef"
TOKEN = "test-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
OA_ID = "gh_0123456789ab"


@dataclass
class Call:
    endpoint: str
    params: dict[str, str]
    body: Any = None
    files: dict[str, bytes] = field(default_factory=dict)
    ok: bool = True
    errcode: int = 0


class FakeWeChat(Recorder[Call]):
    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.tokens: set[str] = set()
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_json: dict[str, dict[str, Any]] = {}
        self.pictures: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, bytes] = {}
        self._failures: dict[str, list[int]] = {}
        self._ids = itertools.count(5_000_000)
        self._gate: asyncio.Event | None = None
        self.send_blocked = asyncio.Event()
        self.server: TestServer | None = None

    # ---- scripting -------------------------------------------------------------------------------

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (data, content_type)

    def add_media_json(self, media_id: str, answer: dict[str, Any]) -> None:
        self.media_json[media_id] = answer

    def add_picture(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """A picture served the way WeChat's image CDN serves a PicUrl; returns its URL."""
        self.pictures[name] = (data, content_type)
        return f"{self.url}/mmbiz_jpg/{name}/0"

    def fail_next(self, endpoint: str, errcode: int, *, times: int = 1, after: int = 0) -> None:
        """After `after` good calls, the next `times` calls to `endpoint` answer `{"errcode": errcode}`
        (with HTTP 200, as WeChat does)."""
        self._failures.setdefault(endpoint, []).extend([0] * after + [errcode] * times)

    def revoke_token(self) -> None:
        """Every issued token becomes invalid (another process fetched a new one, or it expired)."""
        self.tokens.clear()

    def block_sends(self) -> asyncio.Event:
        """Hold every custom/send until the returned event is set; `send_blocked` is set while one waits."""
        self._gate = asyncio.Event()
        return self._gate

    # ---- reading ---------------------------------------------------------------------------------

    def sent(self, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.endpoint == "message/custom/send" and (c.ok or not ok_only)]

    def texts_to(self, openid: str) -> list[str]:
        return [
            c.body["text"]["content"]
            for c in self.sent()
            if c.body.get("touser") == openid and c.body.get("msgtype") == "text"
        ]

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    async def wait_sent(self, count: int, timeout: float = 10.0) -> list[Call]:
        await self.wait_for(lambda f: len(f.sent()) >= count, timeout)
        return self.sent()

    # ---- server ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/cgi-bin/"

    @property
    def host(self) -> str:
        assert self.server is not None
        return str(self.server.host)

    async def start(self) -> FakeWeChat:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_post("/cgi-bin/media/upload", self._upload)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_get("/video/{name}", self._video)
        app.router.add_get("/mmbiz_jpg/{name}/0", self._picture)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self._gate is not None:
            self._gate.set()
        if self.server is not None:
            await self.server.close()

    def _scripted(self, endpoint: str) -> int | None:
        failures = self._failures.get(endpoint)
        return (failures.pop(0) or None) if failures else None

    def _token_error(self, request: web.Request) -> int | None:
        token = request.query.get("access_token", "")
        if not token:
            return 41001
        return None if token in self.tokens else 40001

    async def _token(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        code = self._scripted("token")
        if code is None and (
            q.get("grant_type") != "client_credential"
            or q.get("appid") != self.app_id
            or q.get("secret") != self.app_secret
        ):
            code = 40125
        if code is not None:
            await self._record(Call("token", q, ok=False, errcode=code))
            return web.json_response({"errcode": code, "errmsg": "invalid appsecret"})
        token = "ACCESS_" + secrets.token_hex(12)
        self.tokens.add(token)
        await self._record(Call("token", q))
        return web.json_response({"access_token": token, "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        raw = await request.read()
        body = json.loads(raw.decode("utf-8"))
        code = self._token_error(request) or self._scripted("message/custom/send")
        if code is None and self._gate is not None:
            self.send_blocked.set()
            await self._gate.wait()
        if code is not None:
            await self._record(Call("message/custom/send", q, body, ok=False, errcode=code))
            return web.json_response({"errcode": code, "errmsg": _errmsg(code)})
        await self._record(Call("message/custom/send", q, body))
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)})

    async def _upload(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        form = await request.post()
        files = {k: v.file.read() for k, v in form.items() if isinstance(v, web.FileField)}
        code = self._token_error(request) or self._scripted("media/upload")
        if code is None and q.get("type") not in {"image", "voice", "video", "thumb"}:
            code = 40004
        if code is not None:
            await self._record(Call("media/upload", q, files=files, ok=False, errcode=code))
            return web.json_response({"errcode": code, "errmsg": _errmsg(code)})
        media_id = "UP_" + secrets.token_hex(8)
        self.uploads[media_id] = files.get("media", b"")
        await self._record(Call("media/upload", q, {"media_id": media_id}, files))
        return web.json_response({"type": q["type"], "media_id": media_id, "created_at": int(time.time())})

    async def _media_get(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        code = self._token_error(request) or self._scripted("media/get")
        media_id = q.get("media_id", "")
        if code is None and media_id not in self.media and media_id not in self.media_json:
            code = 40007
        if code is not None:
            await self._record(Call("media/get", q, ok=False, errcode=code))
            return web.json_response({"errcode": code, "errmsg": _errmsg(code)}, content_type="text/plain")
        await self._record(Call("media/get", q))
        if media_id in self.media_json:
            return web.json_response(self.media_json[media_id])
        data, ctype = self.media[media_id]
        return web.Response(
            body=data,
            headers={
                "Content-Type": ctype,
                "Content-disposition": f'attachment; filename="{media_id}.jpg"',
            },
        )

    async def _video(self, request: web.Request) -> web.Response:
        await self._record(Call("video", {"name": request.match_info["name"]}))
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42video", content_type="video/mp4")

    async def _picture(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await self._record(Call("picture", {"name": name}))
        if name not in self.pictures:
            return web.Response(status=404)
        data, ctype = self.pictures[name]
        return web.Response(body=data, content_type=ctype)


def _errmsg(code: int) -> str:
    return {
        -1: "system error",
        40001: "invalid credential, access_token is invalid or not latest",
        40007: "invalid media_id",
        42001: "access_token expired",
        45015: "response out of time limit or subscription is canceled",
    }.get(code, "error")


# ---- inbound, as WeChat pushes it --------------------------------------------------------------------

_msg_ids = itertools.count(int(time.time()) * 1000)


def next_msg_id() -> int:
    return next(_msg_ids)


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def message_xml(openid: str, msg_type: str, *, create_time: int | None = None, **fields: Any) -> str:
    """A message or event body; string fields go in CDATA, numbers bare, as WeChat writes them."""
    nodes = [
        f"<ToUserName>{_cdata(OA_ID)}</ToUserName>",
        f"<FromUserName>{_cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time if create_time is not None else int(time.time())}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    for key, value in fields.items():
        nodes.append(f"<{key}>{value if isinstance(value, int) else _cdata(str(value))}</{key}>")
    return "<xml>" + "".join(nodes) + "</xml>"


def text_xml(openid: str, content: str, msg_id: int | None = None) -> str:
    return message_xml(openid, "text", Content=content, MsgId=msg_id if msg_id is not None else next_msg_id())


def image_xml(openid: str, media_id: str, msg_id: int | None = None) -> str:
    return message_xml(
        openid,
        "image",
        PicUrl="http://mmbiz.qpic.cn/mmbiz_jpg/example/0",
        MediaId=media_id,
        MsgId=msg_id if msg_id is not None else next_msg_id(),
    )


def event_xml(openid: str, event: str, key: str | None = None, create_time: int | None = None) -> str:
    fields: dict[str, Any] = {"Event": event}
    if key is not None:
        fields["EventKey"] = key
    return message_xml(openid, "event", create_time=create_time, **fields)


def signed_query(token: str = TOKEN, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(5)
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, **extra}


def encrypt(
    xml: str, *, token: str = TOKEN, aes_key: str = AES_KEY, app_id: str = APP_ID
) -> tuple[dict[str, str], bytes]:
    """Safe mode: the query (signature + msg_signature) and the `<Encrypt>` envelope WeChat posts."""
    crypto = WeChatCrypto(token, aes_key, app_id)
    query = signed_query(token)
    envelope = crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
    import xmltodict

    parsed = xmltodict.parse(envelope)["xml"]
    body = (
        f"<xml><ToUserName>{_cdata(OA_ID)}</ToUserName><Encrypt>{_cdata(parsed['Encrypt'])}</Encrypt></xml>"
    )
    query.update(encrypt_type="aes", msg_signature=parsed["MsgSignature"])
    return query, body.encode()


def compat(xml: str, **keys: str) -> tuple[dict[str, str], bytes]:
    """Compatibility mode: the plaintext message plus its `Encrypt` copy, signed as in safe mode."""
    query, envelope = encrypt(xml, **keys)
    import xmltodict

    cipher = xmltodict.parse(envelope)["xml"]["Encrypt"]
    cut = xml.rstrip().rfind("</xml>")
    return query, (xml[:cut] + f"<Encrypt>{_cdata(cipher)}</Encrypt>" + xml[cut:]).encode()


def query_string(query: dict[str, str]) -> str:
    return urlencode(query)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
