"""One generic webhook route per adapter: headers → body → verify → parse → writer → provider's answer.

Nothing slow happens here: media, handlers and provider calls all run after the
answer, so WeChat's 5 s and Twilio's 15 s limits are never at risk. This module is
where aiohttp meets the adapters: it turns each request into a plain `bot.ports`
value and the adapter's `WebResponse` back into an aiohttp response.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from bot.core.metrics import Metrics
from bot.core.writer import InboundSink, StoreUnavailable
from bot.ports import (
    Adapter,
    ExtraRoute,
    RequestHead,
    RouteProvider,
    WebhookIngress,
    WebhookRejected,
    WebRequest,
    WebResponse,
)
from bot.web.body import BodyLimits, Precheck
from bot.web.errors import json_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The head built for the header check, kept so its notes reach the later steps of the request.
_HEAD: Any = web.RequestKey("plain_head", RequestHead) if hasattr(web, "RequestKey") else "plain_head"


def head_of(request: web.Request) -> RequestHead:
    head: RequestHead | None = request.get(_HEAD)
    if head is None:
        head = RequestHead(
            method=request.method,
            path=request.path,
            raw_path=request.raw_path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            remote=request.remote,
        )
        request[_HEAD] = head
    return head


async def request_of(request: web.Request) -> WebRequest:
    """The plain request, its body read by the body guard (within its size and time)."""
    head = head_of(request)
    body = await request.read() if request.body_exists else b""
    return WebRequest(
        method=head.method,
        path=head.path,
        raw_path=head.raw_path,
        query=head.query,
        headers=head.headers,
        remote=head.remote,
        notes=head.notes,
        body=body,
    )


async def write(request: web.Request, answer: WebResponse) -> web.StreamResponse:
    """The adapter's answer as an aiohttp response; written here when the adapter must know it left."""
    response = web.Response(status=answer.status, body=answer.body or None, content_type=answer.content_type)
    if answer.on_written is None:
        return response
    try:
        await response.prepare(request)
        await response.write_eof()
    except BaseException:
        answer.on_written(False)
        raise
    answer.on_written(True)
    return response


def header_check(channel: str, check: Callable[[RequestHead], None]) -> Precheck:
    """An adapter's header-only verification as a body-guard precheck (bot/web/body.py).

    `check` raises WebhookRejected; run before the body is read, a wrong Telegram secret
    costs the attacker no buffered megabyte.
    """

    def run(request: web.Request) -> web.StreamResponse | None:
        try:
            check(head_of(request))
        except WebhookRejected as exc:
            log.warning("%s webhook rejected before its body (%s): %s", channel, exc.status, exc.reason)
            return json_error(exc.status, exc.reason)
        return None

    return run


def count_refusals(channel: str, metrics: Metrics) -> Callable[[int], None]:
    """Requests the body guard refuses (forged headers, 408, 413) count as webhooks too."""

    def count(status: int) -> None:
        metrics.webhooks.labels(channel, str(status)).inc()

    return count


def webhook_handler(adapter: WebhookIngress, writer: InboundSink, metrics: Metrics) -> Handler:
    channel = str(adapter.channel)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await _handle(request)
        metrics.webhooks.labels(channel, str(response.status)).inc()
        return response

    async def _handle(request: web.Request) -> web.StreamResponse:
        plain = await request_of(request)
        try:
            await adapter.verify(plain)
            messages = adapter.parse(plain)
        except WebhookRejected as exc:
            log.warning("%s webhook rejected (%s): %s", channel, exc.status, exc.reason)
            return json_error(exc.status, exc.reason)
        try:
            stored = await writer.submit(messages)
        except StoreUnavailable as exc:
            log.warning("%s webhook not stored (%s); the provider will retry", channel, exc)
            return json_error(503, "not stored: retry")
        duplicates = sum(1 for s in stored if not s.is_new)
        if duplicates:
            metrics.duplicates.labels(channel).inc(duplicates)
        return await write(request, await adapter.respond(plain, messages, stored))

    return handle


def add_channel_routes(
    app: web.Application,
    adapters: Iterable[Adapter],
    writer: InboundSink,
    metrics: Metrics,
    bodies: BodyLimits,
    *,
    webhook_paths_only: bool = False,
) -> None:
    """Each adapter's webhook (its headers checked before the body is read) and its own routes;
    `webhook_paths_only`: of those, the ones on a webhook's path (WeChat's handshake), for the
    intake process, which leaves status callbacks and the like to the main process."""
    for adapter in adapters:
        channel = str(adapter.channel)
        if isinstance(adapter, WebhookIngress):  # pollers (email) have no webhook
            route = app.router.add_post(adapter.webhook_path, webhook_handler(adapter, writer, metrics))
            check = header_check(channel, adapter.verify_headers)
            bodies.guard(route, check, count_refusals(channel, metrics))
        for extra in adapter.extra_routes() if isinstance(adapter, RouteProvider) else []:
            if webhook_paths_only and extra.path != getattr(adapter, "webhook_path", None):
                continue
            route = app.router.add_route(extra.method, extra.path, extra_handler(channel, extra))
            if extra.precheck is not None:
                bodies.guard(route, header_check(channel, extra.precheck))


def extra_handler(channel: str, extra: ExtraRoute) -> Handler:
    """An adapter's own route (status callback, handshake, ingest) over plain values."""

    async def handle(request: web.Request) -> web.StreamResponse:
        plain = await request_of(request)
        try:
            answer = await extra.handler(plain)
        except WebhookRejected as exc:
            log.warning("%s %s rejected (%s): %s", channel, extra.path, exc.status, exc.reason)
            return json_error(exc.status, exc.reason)
        return await write(request, answer)

    return handle
