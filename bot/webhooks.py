"""One generic webhook route per adapter: verify → parse → group-commit writer → provider's answer.

Nothing slow happens here: media, handlers and provider calls all run after the
answer, so WeChat's 5 s and Twilio's 15 s limits are never at risk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.http_errors import json_error
from bot.metrics import Metrics
from bot.writer import InboundWriter
from channels.base import ChannelAdapter, WebhookRejected

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


async def read_capped(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_handler(
    adapter: ChannelAdapter, writer: InboundWriter, metrics: Metrics, max_body: int
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    channel = str(adapter.channel)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await _handle(request)
        metrics.webhooks.labels(channel, str(response.status)).inc()
        return response

    async def _handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_capped(request, max_body)
        except BodyTooLarge:
            return json_error(413, f"body larger than {max_body} bytes")
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
            return await respond(request, messages, stored)
        return adapter.webhook_response(messages)

    return handle
