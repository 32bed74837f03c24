"""/healthz and /metrics, and the draining state a graceful stop begins with.

A load balancer takes a process out of rotation when /healthz stops answering 200:
on SIGTERM it answers 503 before anything stops, and webhooks are refused with 503
(and `Connection: close`) so the balancer retries them on another process — a
provider's retry is deduplicated there, so refusing never loses a message.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[Any]]
REFUSED_WHILE_DRAINING = ("/webhooks/",)


class Health:
    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        details: Mapping[str, Probe],
        registry: CollectorRegistry,
        *,
        instance: str,
        leads: Callable[[], list[str]] = list,
        before_scrape: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.ping = ping
        self.details = details
        self.registry = registry
        self.instance = instance
        self.leads = leads
        self.before_scrape = before_scrape  # gauges read from the database (bot/core/singletons.py)
        self.draining = False

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz), web.get("/metrics", self.metrics)]

    async def healthz(self, _request: web.Request) -> web.Response:
        who = {"instance": self.instance, "leads": self.leads()}
        if self.draining:
            return web.json_response({"status": "stopping", **who}, status=503)
        try:
            await self.ping()
        except Exception as exc:
            return web.json_response(
                {"status": "error", "error": f"database unreachable: {type(exc).__name__}", **who}, status=503
            )
        details = {}
        for name, probe in self.details.items():
            try:
                details[name] = await probe()
            except Exception as exc:
                details[name] = {"error": str(exc)}
        body: dict[str, Any] = {"status": "ok", **who}
        if details:
            body["details"] = details
        return web.json_response(body)

    async def metrics(self, _request: web.Request) -> web.Response:
        if self.before_scrape is not None:
            try:
                await self.before_scrape()
            except Exception:
                log.exception("refreshing the gauges failed; serving the last values")
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @web.middleware
    async def refuse_while_draining(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.draining and request.path.startswith(REFUSED_WHILE_DRAINING):
            return web.json_response(
                {"error": "stopping: retry on another process"},
                status=503,
                headers={"Retry-After": "1", "Connection": "close"},
            )
        return await handler(request)


def drain_on_sigterm(health: Health, drain_seconds: float) -> Callable[[web.Application], Awaitable[None]]:
    """An `on_startup` hook for `serve`: SIGTERM first drains (/healthz 503, webhooks refused)
    for `drain_seconds`, so the balancer has taken us out, and only then stops the server,
    which lets requests in flight finish and runs the app's orderly shutdown."""

    async def install(_app: web.Application) -> None:
        loop = asyncio.get_running_loop()

        def begin() -> None:
            if health.draining:
                return
            health.draining = True
            log.info("SIGTERM: %s is draining; stopping in %.1fs", health.instance, drain_seconds)
            loop.call_later(drain_seconds, _graceful_exit)

        loop.add_signal_handler(signal.SIGTERM, begin)

    return install


def _graceful_exit() -> None:
    raise GracefulExit()  # what aiohttp's own SIGTERM handler raises: web.run_app shuts down
