"""Stopping a background task for certain.

Python 3.11's `asyncio.wait_for` returns the inner result when a cancel lands just as the inner
awaitable completes, swallowing the cancel: a loop around `wait_for` then simply runs on, and the
usual `task.cancel(); await task` never returns. A bot's shutdown hung on exactly this (the
leadership loop, with the email poller it keeps). So a stop cancels again until the task ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, again_after: float = 1.0) -> None:
    """Cancel `task` until it has ended; an error it ended with is logged, not raised."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=again_after)
    if not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with %r while stopping", task.get_name(), task.exception())
