"""`serve`'s side of the intake process: the link it stores through, and the child it keeps running.

Started after the runtime (the writer must be taking messages) and stopped before it: the
child stops taking requests and answers those in flight, which the link still stores,
and only then does the link close. A child that dies is started again a second later;
a main process that dies takes its child with it (the child exits when the link breaks).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from bot.core.link import LinkServer
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RESTART_SECONDS = 1.0
STOP_SECONDS = 15.0  # the child's own shutdown answers its requests in flight first


class IntakeKeeper:
    """Runs `argv` (the `aftersales intake` command) until stopped, starting it again if it exits."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="intake-keeper")

    async def _keep(self) -> None:
        while True:
            self.process = await asyncio.create_subprocess_exec(*self.argv)
            code = await self.process.wait()
            log.warning("the intake process exited with %s; starting it again", code)
            await asyncio.sleep(RESTART_SECONDS)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def intake_argv(config_file: str, host: str, link: str) -> list[str]:
    cli = [sys.executable, "-m", "bot.tools.cli", "--config", config_file]
    return [*cli, "intake", "--host", host, "--link", link]


def supervised_intake(
    server: LinkServer, argv_for: Callable[[str], list[str]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context for `serve`'s app: the link server, then the child given its path."""

    async def run(_app: web.Application) -> AsyncIterator[None]:
        await server.start()
        keeper = IntakeKeeper(argv_for(server.path))
        await keeper.start()
        try:
            yield
        finally:
            await keeper.stop()
            await server.stop()
            shutil.rmtree(Path(server.path).parent, ignore_errors=True)  # the link's own 0700 directory

    return run
