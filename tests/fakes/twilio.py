"""A fake Twilio on 127.0.0.1: the REST API twilio-python calls, media with Basic auth and a 307, a CDN.

The API (`POST /2010-04-01/Accounts/{sid}/Messages.json`) checks HTTP Basic auth the way
Twilio does, records every call's form (duplicate keys kept: several `MediaUrl`), and can
be scripted to fail with Twilio's error body (HTTP status + error code, e.g. 63016 or
500s). Media lives at Twilio's path on the API host, answers 307 to a pre-signed URL on
a *different* host (127.0.0.2, same port, the "CDN"), and the CDN records whether any request
carried an Authorization header. Inbound webhooks are built in Twilio's real format and
signed with twilio's own `RequestValidator`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from config.settings import WhatsAppSettings
from tests.fakes.base import Recorder

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-twilio-auth-token-0123456789"
FROM_NUMBER = "whatsapp:+14155238886"
CDN_HOST = "127.0.0.2"  # the loopback net is all ours on Linux: a second host name for the CDN


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@dataclass
class Call:
    kind: str  # "create", "media", "cdn", "callback" (one we made to the bot)
    params: MultiDict[str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    ok: bool = True
    sid: str | None = None


@dataclass
class Media:
    data: bytes
    content_type: str
    chunked: bool = False


class FakeTwilio(Recorder[Call]):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.media: dict[str, Media] = {}  # CDN key → file
        self._media_keys: dict[tuple[str, str], str] = {}  # (message sid, media sid) → CDN key
        self._failures: list[tuple[int, dict[str, Any]]] = []
        self._redirects: dict[tuple[str, str], str] = {}
        self._counter = itertools.count(1)
        self.api: TestServer | None = None
        self.cdn: TestServer | None = None
        # Twilio may call StatusCallback before its API answer reaches us: when set, each
        # accepted message is reported "sent" then "delivered" to this base URL (the bot's real
        # address; the signature still covers the StatusCallback URL as given) while the API
        # answer is held back by `answer_latency` seconds of simulated network delay.
        self.callbacks_to: str | None = None
        self.answer_latency = 0.3
        self.callback_results: list[int] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- scripting -----------------------------------------------------------------------------

    def fail_next(
        self, status: int = 500, *, code: int | None = None, message: str = "", times: int = 1
    ) -> None:
        """The next `times` Messages.json calls answer Twilio's error JSON with this status and code."""
        body = {
            "code": code if code is not None else status,
            "message": message or ("Internal Server Error" if status >= 500 else "Bad Request"),
            "more_info": f"https://www.twilio.com/docs/errors/{code or status}",
            "status": status,
        }
        self._failures.extend([(status, body)] * times)

    def add_media(
        self,
        data: bytes,
        content_type: str = "image/jpeg",
        *,
        message_sid: str | None = None,
        chunked: bool = False,
    ) -> str:
        """Store a file as Twilio would for an inbound message; returns its MediaUrl."""
        msid = message_sid or new_sid("MM")
        me = new_sid("ME")
        key = secrets.token_hex(12)
        self.media[key] = Media(data, content_type, chunked)
        self._media_keys[(msid, me)] = key
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{msid}/Media/{me}"

    def redirect_media_to(self, media_url: str, location: str) -> None:
        """Make the media URL answer 307 to an arbitrary place (to test what we refuse)."""
        parts = media_url.rstrip("/").split("/")
        self._redirects[(parts[-3], parts[-1])] = location

    # ---- reading what happened -----------------------------------------------------------------

    def created(self, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.kind == "create" and (c.ok or not ok_only)]

    def sent_to(self, to: str) -> list[Call]:
        return [c for c in self.created() if c.params.get("To") == to]

    def texts_to(self, to: str) -> list[str]:
        return [c.params.get("Body", "") for c in self.sent_to(to)]

    def hits(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    async def wait_created(self, count: int, timeout: float = 10.0) -> list[Call]:
        await self.wait_for(lambda f: len(f.created()) >= count, timeout)
        return self.created()

    # ---- server --------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return str(self.api.make_url("")).rstrip("/")

    @property
    def cdn_url(self) -> str:
        assert self.cdn is not None
        return str(self.cdn.make_url("")).rstrip("/")

    async def start(self) -> FakeTwilio:
        api = web.Application()
        api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        api.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{msid}/Media/{me}", self._media)
        self.api = TestServer(api, host="127.0.0.1")
        await self.api.start_server()
        cdn = web.Application()
        cdn.router.add_get("/cdn/{key}", self._cdn)
        # Same port as the API, another address: the bot fetches media only on the API base's port
        # (and 443), as it would from api.twilio.com:443 → media.twiliocdn.com:443.
        self.cdn = TestServer(cdn, host=CDN_HOST, port=self.api.port)
        await self.cdn.start_server()
        return self

    async def close(self) -> None:
        for task in list(self._tasks):
            await task
        for server in (self.api, self.cdn):
            if server is not None:
                await server.close()

    def _authorised(self, request: web.Request, sid: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and request.headers.get("Authorization", "") == expected

    @staticmethod
    def _auth_error() -> web.Response:
        return web.json_response(
            {
                "code": 20003,
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            },
            status=401,
        )

    async def _create(self, request: web.Request) -> web.Response:
        form = MultiDict((await request.post()).items())
        headers = dict(request.headers)
        if not self._authorised(request, request.match_info["sid"]):
            await self._record(
                Call("create", MultiDict({str(k): str(v) for k, v in form.items()}), headers, ok=False)
            )
            return self._auth_error()
        params: MultiDict[str] = MultiDict((str(k), str(v)) for k, v in form.items())
        if self._failures:
            status, body = self._failures.pop(0)
            await self._record(Call("create", params, headers, ok=False))
            return web.json_response(body, status=status)
        sid = new_sid("SM")
        await self._record(Call("create", params, headers, sid=sid))
        if self.callbacks_to and params.get("StatusCallback"):
            task = asyncio.create_task(self._call_back(params["StatusCallback"], sid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(self.answer_latency)
        now = formatdate(usegmt=True)
        return web.json_response(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": params.get("To"),
                "from": params.get("From"),
                "body": params.get("Body", ""),
                "status": "queued",
                "num_media": str(len(params.getall("MediaUrl", []))),
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "error_code": None,
                "error_message": None,
                "price": None,
                "price_unit": "USD",
                "messaging_service_sid": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
                "subresource_uris": {},
            },
            status=201,
        )

    async def _call_back(self, callback_url: str, sid: str) -> None:
        target = (self.callbacks_to or "").rstrip("/") + urlsplit(callback_url).path
        async with aiohttp.ClientSession() as http:
            for status in ("sent", "delivered"):
                pairs = status_form(sid, status)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": sign(callback_url, pairs, self.auth_token),
                }
                async with http.post(target, data=encode(pairs), headers=headers) as resp:
                    self.callback_results.append(resp.status)
                await self._record(Call("callback", MultiDict({"status": status, "sid": sid}), headers))

    async def _media(self, request: web.Request) -> web.Response:
        msid, me = request.match_info["msid"], request.match_info["me"]
        await self._record(Call("media", MultiDict({"msid": msid, "me": me}), dict(request.headers)))
        if not self._authorised(request, request.match_info["sid"]):
            return self._auth_error()
        if (msid, me) in self._redirects:
            raise web.HTTPTemporaryRedirect(self._redirects[(msid, me)])
        key = self._media_keys.get((msid, me))
        if key is None:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        raise web.HTTPTemporaryRedirect(f"{self.cdn_url}/cdn/{key}?Expires={int(time.time()) + 300}")

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        await self._record(Call("cdn", MultiDict({"key": key}), dict(request.headers)))
        media = self.media.get(key)
        if media is None:
            return web.Response(status=404)
        if not media.chunked:
            return web.Response(body=media.data, content_type=media.content_type)
        resp = web.StreamResponse(headers={"Content-Type": media.content_type})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(media.data), 65536):
            await resp.write(media.data[i : i + 65536])
        await resp.write_eof()
        return resp


# ---- settings and signed requests -----------------------------------------------------------------


def whatsapp_settings(fake: FakeTwilio, *, template_content_sid: str = "") -> WhatsAppSettings:
    return WhatsAppSettings(
        enabled=True,
        account_sid=fake.account_sid,
        auth_token=fake.auth_token,
        from_number=FROM_NUMBER,
        api_base_url=fake.api_url,
        template_content_sid=template_content_sid,
    )


def inbound_form(
    sender: str,
    body: str = "",
    *,
    account_sid: str = ACCOUNT_SID,
    sid: str | None = None,
    profile_name: str = "Anna Schmidt",
    media: list[tuple[str, str]] | None = None,
    button: tuple[str, str] | None = None,
    replied_to: str | None = None,
) -> list[tuple[str, str]]:
    """The form Twilio posts for an inbound WhatsApp message, in the order Twilio sends it."""
    sid = sid or new_sid("SM" if not media else "MM")
    media = media or []
    pairs = [
        ("SmsMessageSid", sid),
        ("NumMedia", str(len(media))),
        ("ProfileName", profile_name),
        ("MessageType", "image" if media else ("button" if button else "text")),
        ("SmsSid", sid),
        ("WaId", sender.removeprefix("whatsapp:+")),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", FROM_NUMBER),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    if button is not None:
        pairs += [("ButtonText", button[0]), ("ButtonPayload", button[1])]
    if replied_to is not None:
        pairs += [("OriginalRepliedMessageSender", FROM_NUMBER), ("OriginalRepliedMessageSid", replied_to)]
    for i, (url, ctype) in enumerate(media):
        pairs += [(f"MediaContentType{i}", ctype), (f"MediaUrl{i}", url)]
    return pairs


def status_form(message_sid: str, status: str, *, error_code: int | None = None) -> list[tuple[str, str]]:
    pairs = [
        ("SmsSid", message_sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("ChannelToAddress", "+491701234567"),
        ("To", "whatsapp:+491701234567"),
        ("ChannelPrefix", "whatsapp"),
        ("MessageSid", message_sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", FROM_NUMBER),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code is not None:
        pairs += [("ErrorCode", str(error_code)), ("EventType", "UNDELIVERED")]
    return pairs


def sign(url: str, pairs: list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature exactly as Twilio computes it, through twilio's own validator code."""
    return RequestValidator(token).compute_signature(url, MultiDict(pairs))


def encode(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode()
