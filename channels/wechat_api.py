"""A small asyncio client for the WeChat Official Account HTTP API (token, 客服 send, media).

Why aiohttp and not wechatpy's `WeChatClient`: wechatpy is synchronous (requests) and
its `fetch_access_token` hard-codes https://api.weixin.qq.com, so a fake or a gateway
set in `wechat.api_base_url` would be bypassed exactly when a 40001 forces a token
refresh (see docs/providers/wechat.md). Running it in a thread would also buffer media downloads
whole in memory; here media streams into the MediaStore with the size cap. wechatpy
still does everything security-relevant on the inbound side (signatures, AES, XML).

Every call goes to `api_base_url`; the access token is cached per process, refreshed
60 s before it expires, and fetched again (then the call retried once) when WeChat
says it is invalid or expired (40001, 40014, 42001).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid, not-an-access-token, expired
RETRYABLE_ERRORS = frozenset({-1, 45009})  # system busy, API frequency limit
WINDOW_ERRORS = frozenset({45015, 45047})  # 48-hour window closed, per-message reply quota used up
REFRESH_MARGIN = 60.0

T = TypeVar("T")


class WeChatApiError(Exception):
    """WeChat answered with a non-zero errcode, or not at all (`errcode` None: HTTP/network failure)."""

    def __init__(self, errcode: int | None, errmsg: str, *, http_status: int | None = None) -> None:
        super().__init__(f"wechat errcode {errcode}: {errmsg}" if errcode is not None else errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        if self.errcode is None:
            return self.http_status is None or self.http_status >= 500 or self.http_status == 429
        return self.errcode in RETRYABLE_ERRORS

    @property
    def window_closed(self) -> bool:
        return self.errcode in WINDOW_ERRORS


class WeChatApi:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        timeout: float = 15.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self.on_token = on_token  # told every new access token, so the log scrubber can hide it
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def start(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("WeChat API client not started")
        return self._http

    def url(self, endpoint: str) -> str:
        return self.base_url + endpoint.lstrip("/")

    # ---- access token ----------------------------------------------------------------------------

    async def access_token(self, *, stale: str | None = None) -> str:
        """The cached token; `stale` is the one WeChat just refused, so fetch a new one unless
        another task already did (many outbox rows can hit 40001 at once: one fetch, not many)."""
        async with self._lock:
            fresh = self._token is not None and time.monotonic() < self._expires_at - REFRESH_MARGIN
            if fresh and self._token != stale:
                assert self._token is not None
                return self._token
            data = await self._json(
                self.http.get(
                    self.url("token"),
                    params={
                        "grant_type": "client_credential",
                        "appid": self.app_id,
                        "secret": self.app_secret,
                    },
                )
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError(None, f"token answer without access_token: {str(data)[:200]}")
            if self.on_token is not None:
                self.on_token(token)  # before anything can log a URL that carries it
            self._token = token
            self._expires_at = time.monotonic() + float(data.get("expires_in") or 7200)
            self.token_fetches += 1
            return token

    async def with_token(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Run `call(token)`; on a token error fetch a new token and run it once more."""
        token = await self.access_token()
        try:
            return await call(token)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat access token refused (%s); fetching a new one", exc.errcode)
        token = await self.access_token(stale=token)
        return await call(token)

    # ---- calls -------------------------------------------------------------------------------------

    async def post_json(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        # ensure_ascii=False: WeChat shows \uXXXX escapes literally in some APIs; send UTF-8.
        body = json.dumps(payload, ensure_ascii=False).encode()

        async def call(token: str) -> dict[str, Any]:
            return await self._json(
                self.http.post(
                    self.url(endpoint),
                    params={"access_token": token},
                    data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
            )

        return await self.with_token(call)

    async def upload_media(self, kind: str, path: Path, filename: str, mime: str) -> str:
        """`media/upload` (temporary media, kept 3 days); returns the media_id."""

        async def call(token: str) -> dict[str, Any]:
            with path.open("rb") as fh:
                form = aiohttp.FormData()
                form.add_field("media", fh, filename=filename, content_type=mime)
                return await self._json(
                    self.http.post(
                        self.url("media/upload"), params={"access_token": token, "type": kind}, data=form
                    )
                )

        data = await self.with_token(call)
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatApiError(None, f"upload answer without media_id: {str(data)[:200]}", http_status=200)
        return media_id

    @asynccontextmanager
    async def media_get(
        self, media_id: str
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, dict[str, Any] | None]]:
        """`media/get`: the open response to stream, or (for video) the JSON WeChat answered with.

        A token error (answered as JSON with HTTP 200) gets one retry with a new token.
        """
        token = await self.access_token()
        for attempt in (1, 2):
            async with self.http.get(
                self.url("media/get"),
                params={"access_token": token, "media_id": media_id},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=120),
            ) as resp:
                if resp.status != 200:  # a redirect is never followed, nor stored as the file
                    raise WeChatApiError(
                        None, f"media/get answered HTTP {resp.status}", http_status=resp.status
                    )
                data: dict[str, Any] | None = None
                if is_json_answer(resp):
                    data = await read_small_json(resp)
                    code = data.get("errcode")
                    if isinstance(code, int) and code in TOKEN_ERRORS and attempt == 1:
                        token = await self.access_token(stale=token)
                        continue
                    if isinstance(code, int) and code != 0:
                        raise WeChatApiError(code, str(data.get("errmsg", "")))
                yield resp, data
                return
        raise WeChatApiError(None, "media/get: token refused twice")  # pragma: no cover - loop returns

    async def _json(self, request: Any) -> dict[str, Any]:
        try:
            async with request as resp:
                if resp.status >= 400:
                    raise WeChatApiError(None, f"HTTP {resp.status}", http_status=resp.status)
                data = await read_small_json(resp)
        except aiohttp.ClientError as exc:
            raise WeChatApiError(None, f"{type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise WeChatApiError(None, "timed out") from exc
        code = data.get("errcode", 0)
        if code not in (0, None):
            raise WeChatApiError(int(code), str(data.get("errmsg", "")))
        return data


def is_json_answer(resp: aiohttp.ClientResponse) -> bool:
    ctype = resp.headers.get("Content-Type", "").lower()
    return "json" in ctype or ctype.startswith("text/")


async def read_small_json(resp: aiohttp.ClientResponse, limit: int = 65536) -> dict[str, Any]:
    """WeChat's JSON answers are tiny; a big one is not an answer we understand."""
    raw = await resp.content.read(limit + 1)
    if len(raw) > limit:
        raise WeChatApiError(None, "JSON answer too large", http_status=resp.status)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WeChatApiError(None, f"answer is not JSON: {raw[:100]!r}", http_status=resp.status) from exc
    if not isinstance(data, dict):
        raise WeChatApiError(None, "answer is not a JSON object", http_status=resp.status)
    return data
