"""The one bounded body reader: every request body is read here, within a size and a time budget.

A slow client that sends its headers and then trickles the body would otherwise hold a
connection and a buffer for as long as it likes; a declared size over the cap would be
read before being refused. The guard runs as a middleware after authentication, so a
route's own header-only checks (a webhook secret, a signature that must be present)
refuse a request before a byte of its body is read. Routes then call `request.read()`,
`request.json()` or `request.post()` as usual and get the bytes read here (aiohttp keeps
them). A multipart route would have to parse those bytes itself: the stream is consumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractRoute

from bot.web.errors import json_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A check of the request line and headers only: a refusal to send at once, or None to go on.
Precheck = Callable[[web.Request], web.StreamResponse | None]


@dataclass
class BodyLimits:
    max_bytes: int
    timeout_seconds: float
    prechecks: dict[AbstractRoute, Precheck] = field(default_factory=dict)
    observers: dict[AbstractRoute, Callable[[int], None]] = field(default_factory=dict)

    def guard(
        self,
        route: AbstractRoute,
        check: Precheck | None = None,
        on_refusal: Callable[[int], None] | None = None,
    ) -> None:
        """Run `check` on requests to `route` before their body is read; report refusals' status."""
        if check is not None:
            self.prechecks[route] = check
        if on_refusal is not None:
            self.observers[route] = on_refusal


def body_guard(limits: BodyLimits) -> Middleware:
    def _closing(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        observer = limits.observers.get(request.match_info.route)
        if observer is not None:
            observer(response.status)
        # The unread rest of the body makes the connection useless; closing it also stops
        # aiohttp from lingering to drain a body that may never come.
        response.force_close()
        return response

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists or request.match_info.http_exception is not None:
            return await handler(request)  # no body, or no route (404/405): nothing to read
        check = limits.prechecks.get(request.match_info.route)
        if check is not None:
            refusal = check(request)
            if refusal is not None:
                return _closing(request, refusal)
        declared = request.content_length
        if declared is not None and declared > limits.max_bytes:
            return _closing(request, json_error(413, f"body larger than {limits.max_bytes} bytes"))
        try:
            async with asyncio.timeout(limits.timeout_seconds):
                await request.read()
        except TimeoutError:
            log.warning(
                "%s %s: body not complete within %.1fs", request.method, request.path, limits.timeout_seconds
            )
            return _closing(
                request, json_error(408, f"body not received within {limits.timeout_seconds:g} s")
            )
        except web.HTTPRequestEntityTooLarge:  # chunked, no Content-Length: found while reading
            return _closing(request, json_error(413, f"body larger than {limits.max_bytes} bytes"))
        except (ConnectionError, HttpProcessingError):  # the client went away or broke the framing
            return _closing(request, json_error(400, "incomplete request body"))
        return await handler(request)

    return middleware
