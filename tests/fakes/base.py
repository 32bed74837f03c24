"""What every fake provider shares: calls recorded under a condition, so a test waits for what the
provider received with a deadline instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

CallT = TypeVar("CallT")


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
