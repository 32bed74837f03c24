"""A stop ends the task even when the task swallowed the first cancel (as 3.11's wait_for can)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancel_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what wait_for does when its inner result is ready at the cancel

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, again_after=0.05), 5)
    assert task.cancelled() and swallowed == 1


async def test_an_error_the_task_ended_with_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("mailbox gone")

    task = asyncio.create_task(broken())
    await asyncio.wait({task})
    with caplog.at_level(logging.WARNING, logger="bot.tasks"):
        await cancel_and_wait(task)
    assert "mailbox gone" in caplog.text


async def test_no_task_is_nothing_to_stop() -> None:
    await cancel_and_wait(None)
