"""The intake process's web app: the channels' webhooks, stored through the intake link.

`serve` starts this process when `server.intake_port` is set (bot/core/link.py says why).
It answers exactly the webhook paths, with the same verification, limits and answers as
the main process; everything else (status callbacks, the console, the API) stays there.
The link is its lifeline: when the main process goes, webhooks in flight answer 503 and
this process exits, so a restarted main process starts a fresh one on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web

from bot.core.link_client import LinkClient
from bot.core.metrics import Metrics
from bot.ports import Adapter, PollingIngress
from bot.tasks import cancel_and_wait
from bot.web.body import BodyLimits, body_guard
from bot.web.request_ids import request_ids
from bot.web.webhooks import add_channel_routes

log = logging.getLogger(__name__)


class IntakeApp:
    def __init__(
        self,
        adapters: Sequence[Adapter],
        link: LinkClient,
        bodies: BodyLimits,
        *,
        close: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.adapters = [a for a in adapters if not isinstance(a, PollingIngress)]
        self.link = link
        self.bodies = bodies
        self.close = close  # what the adapters read between requests (the database handle)
        self.on_lost = on_lost or _terminate
        self.metrics = Metrics()  # counted here, not scraped: /metrics is the main process's

    def build(self) -> web.Application:
        guards = [request_ids, body_guard(self.bodies)]
        app = web.Application(middlewares=guards, client_max_size=self.bodies.max_bytes)
        add_channel_routes(app, self.adapters, self.link, self.metrics, self.bodies, webhook_paths_only=True)
        app.router.add_get("/healthz", self.healthz)
        app.cleanup_ctx.append(self._lifecycle)
        return app

    async def healthz(self, _request: web.Request) -> web.Response:
        if self.link.lost.is_set():
            return web.json_response({"status": "error", "error": "the main process is gone"}, status=503)
        return web.json_response({"status": "ok", "role": "intake"})

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        await self.link.start()
        for adapter in self.adapters:
            await adapter.start()
        watch = asyncio.create_task(self._exit_when_lost(), name="intake-lifeline")
        yield
        await cancel_and_wait(watch)
        await self.link.stop()
        for adapter in self.adapters:
            await adapter.close()
        if self.close is not None:
            await self.close()

    async def _exit_when_lost(self) -> None:
        await self.link.lost.wait()
        log.warning("intake: the link to the main process broke; exiting")
        self.on_lost()


def _terminate() -> None:
    signal.raise_signal(signal.SIGTERM)  # web.run_app's own handler: an orderly stop
