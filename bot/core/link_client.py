"""The intake process's end of the link (bot/core/link.py): it stores through it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.core.link import MAX_FRAME, FrameStream
from bot.core.writer import Stored, StoreUnavailable
from bot.messages import InboundMessage
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class LinkClient:
    """The intake side: `submit` as the in-process writer has it, answered by the storing process.

    The link is the process's lifeline: once it breaks, every request waiting and every later
    one gets StoreUnavailable (503, so the provider retries), and `lost` is set.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lost = asyncio.Event()
        self._stream: FrameStream | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._next = 0

    async def start(self) -> None:
        reader, writer = await asyncio.open_unix_connection(self.path, limit=MAX_FRAME)
        self._stream = FrameStream(reader, writer)
        self._reader = asyncio.create_task(self._read(self._stream), name="intake-link")

    async def stop(self) -> None:
        await cancel_and_wait(self._reader)
        if self._stream is not None:
            await self._stream.close()
        self._give_up()

    async def submit(self, messages: list[InboundMessage]) -> list[Stored]:
        if not messages:
            return []
        rows = await self._ask("m", [m.to_json() for m in messages])
        return [Stored(int(a), bool(b), str(c), str(d)) for a, b, c, d in rows]

    async def remember(
        self, timestamp: int, nonce: str, signature: str, *, forget_before: int | None
    ) -> bool:
        """bot.ports.ReplayMemory, kept by the storing process."""
        return bool(await self._ask("r", [timestamp, nonce, signature, forget_before]))

    async def _ask(self, kind: str, value: Any) -> Any:
        if self._stream is None or self.lost.is_set():
            raise StoreUnavailable("the storing process is gone")
        self._next += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        self._stream.send({"i": self._next, kind: value})
        return await fut

    async def _read(self, stream: FrameStream) -> None:
        try:
            while (frame := await stream.read()) is not None:
                fut = self._waiting.pop(frame.get("i", -1), None)
                if fut is None or fut.done():
                    continue
                if "s" in frame or "ok" in frame:
                    fut.set_result(frame.get("s", frame.get("ok")))
                else:
                    fut.set_exception(StoreUnavailable(str(frame.get("e", "not stored"))))
        finally:
            self._give_up()

    def _give_up(self) -> None:
        self.lost.set()
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(StoreUnavailable("the storing process is gone"))

