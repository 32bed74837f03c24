"""What one running bot holds (`Runtime`) and the order its parts start and stop in.

`bot/app.py` builds the parts; this module only runs them, so the composition root
stays the one place that knows which concrete part fills each role.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.core.engine import Engine
from bot.core.link import LinkServer
from bot.core.media import MediaLinks
from bot.core.metrics import Metrics
from bot.core.outbox import OutboxDispatcher
from bot.core.singletons import Housekeeping
from bot.core.writer import InboundWriter
from bot.ports import Adapter, PollingIngress
from bot.web.health import Health
from channels.base import MediaStore
from channels.sandbox import SandboxSender
from config.settings import Settings
from escalation.runtime import EscalationRuntime
from storage.db import Database
from storage.leadership import Leadership
from storage.wal import WalCheckpoints

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything one running bot holds; tests reach in through it, `create_app` serves it."""

    settings: Settings
    db: Database
    metrics: Metrics
    store: MediaStore
    links: MediaLinks
    adapters: dict[str, Adapter]
    writer: InboundWriter
    engine: Engine
    dispatcher: OutboxDispatcher
    sandbox: SandboxSender | None
    escalation: EscalationRuntime
    leadership: Leadership
    health: Health
    housekeeping: Housekeeping
    checkpoints: WalCheckpoints
    link: LinkServer | None = None  # with an intake process: its messages in, our replies out

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """One clock for the handlers (`ctx.now`) and the escalation service and jobs."""
        self.engine.clock = clock
        self.escalation.set_clock(clock)


RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start in dependency order; stop in reverse, each part finishing what it holds within
    `cluster.stop_grace_seconds` (the HTTP server has stopped taking requests by then)."""
    rt = app[RUNTIME]
    for adapter in rt.adapters.values():
        if not isinstance(adapter, PollingIngress):  # a poller runs on the leader of its mailbox only
            await adapter.start()
    await rt.checkpoints.start()
    await rt.writer.start()
    await rt.engine.start()
    await rt.dispatcher.start()
    await rt.escalation.start()
    await rt.leadership.start()
    log.info(
        "aftersales started: instance=%s channels=%s sandbox=%s leads=%s",
        rt.health.instance, sorted(rt.adapters), rt.settings.server.sandbox, rt.leadership.held(),
    )  # fmt: skip
    yield
    rt.health.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + rt.settings.cluster.stop_grace_seconds
    await rt.leadership.stop()  # pollers and housekeeping stop; another process takes the roles over
    await rt.escalation.stop()
    await rt.writer.stop()
    await rt.engine.stop(max(0.5, deadline - loop.time()))
    await rt.dispatcher.stop(max(0.5, deadline - loop.time()))
    for adapter in rt.adapters.values():
        await adapter.close()
    await rt.checkpoints.stop()
    await rt.db.dispose()
    log.info("aftersales stopped: instance=%s", rt.health.instance)
