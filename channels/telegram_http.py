"""python-telegram-bot's request object over one pooled aiohttp session.

python-telegram-bot leaves the HTTP transport to a `BaseRequest`; its default is httpx.
Profiled under the benchmark's load, httpx was most of a Telegram send's time (about a
tenth of the whole process), aiohttp's client, which the server already runs on,
a fraction of that. The library still builds every request and parses every answer
(its errors, flood control's `retry_after`, the returned Message); only the bytes
travel differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds, as python-telegram-bot's defaults; a method's own argument wins."""

    read: float | None = 5.0
    write: float | None = 5.0
    connect: float | None = 5.0
    pool: float | None = 1.0
    media_write: float | None = 20.0  # an upload's write


class AiohttpRequest(BaseRequest):
    def __init__(self, *, connections: int = 64, timeouts: Timeouts | None = None) -> None:
        self.connections = connections
        self.timeouts = timeouts or Timeouts()
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.timeouts.read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self.initialize()  # the adapter never calls Bot.initialize (that would be a getMe)
        assert self._session is not None
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else {}
        t = self.timeouts
        write = _seconds(write_timeout, t.media_write if files else t.write)
        read = _seconds(read_timeout, t.read)
        pool, connect = _seconds(pool_timeout, t.pool), _seconds(connect_timeout, t.connect)
        # aiohttp's `connect` covers waiting for a pooled connection and opening one; `sock_read`
        # the silence before the answer (for an upload, the time to write it as well).
        timeout = aiohttp.ClientTimeout(
            connect=None if pool is None or connect is None else pool + connect,
            sock_read=None if read is None else max(read, write or 0.0) if files else read,
        )
        body: Any = fields
        if files:
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            body = form
        try:
            async with self._session.request(
                method, url, data=body, headers={"User-Agent": self.USER_AGENT}, timeout=timeout
            ) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
