"""What every fake provider shares: calls recorded under a condition, so a test waits for what the
provider received with a deadline instead of sleeping."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Generic, TypeVar

CallT = TypeVar("CallT")


def free_port() -> int:
    """A port nothing listens on now (for a server that cannot bind port 0 itself, or a dead peer)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder(Generic[CallT]):
    def __init__(self) -> None:
        self.calls: list[CallT] = []
        self._changed = asyncio.Condition()

    async def _record(self, call: CallT) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate(self)` holds, woken by each recorded call; fail after `timeout`."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(_wait(), timeout)
