"""One generic webhook route per adapter: headers → body → verify → parse → writer → provider's answer.

Nothing slow happens here: media, handlers and provider calls all run after the
answer, so WeChat's 5 s and Twilio's 15 s limits are never at risk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.metrics import Metrics
from bot.core.writer import InboundWriter
from bot.web.body import Precheck
from bot.web.errors import json_error
from channels.base import ChannelAdapter, WebhookRejected

log = logging.getLogger(__name__)


def header_check(
    adapter: ChannelAdapter, check: Callable[[web.Request], None] | None = None
) -> Precheck | None:
    """The adapter's header-only verification as a body-guard precheck (bot/body.py).

    `check` (default: the adapter's optional `verify_headers`) raises WebhookRejected; run
    before the body is read, a wrong Telegram secret costs the attacker no buffered megabyte.
    """
    verify = check or getattr(adapter, "verify_headers", None)
    if verify is None:
        return None
    channel = str(adapter.channel)

    def run(request: web.Request) -> web.StreamResponse | None:
        try:
            verify(request)
        except WebhookRejected as exc:
            log.warning("%s webhook rejected before its body (%s): %s", channel, exc.status, exc.reason)
            return json_error(exc.status, exc.reason)
        return None

    return run


def count_refusals(adapter: ChannelAdapter, metrics: Metrics) -> Callable[[int], None]:
    """Requests the body guard refuses (forged headers, 408, 413) count as webhooks too."""
    channel = str(adapter.channel)

    def count(status: int) -> None:
        metrics.webhooks.labels(channel, str(status)).inc()

    return count


def webhook_handler(
    adapter: ChannelAdapter, writer: InboundWriter, metrics: Metrics
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    channel = str(adapter.channel)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await _handle(request)
        metrics.webhooks.labels(channel, str(response.status)).inc()
        return response

    async def _handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # already read by the body guard, within its size and time
        try:
            await adapter.verify(request, body)
            messages = adapter.parse(request, body)
        except WebhookRejected as exc:
            log.warning("%s webhook rejected (%s): %s", channel, exc.status, exc.reason)
            return json_error(exc.status, exc.reason)
        stored = await writer.submit(messages)
        duplicates = sum(1 for s in stored if not s.is_new)
        if duplicates:
            metrics.duplicates.labels(channel).inc(duplicates)
        # Optional: an adapter that answers with content (WeChat passive replies) needs the
        # request and the stored rows; it must still answer within the provider's deadline.
        respond = getattr(adapter, "respond", None)
        if respond is not None:
            response: web.StreamResponse = await respond(request, messages, stored)
            return response
        return adapter.webhook_response(messages)

    return handle
