"""The intake link: webhook processes hand parsed messages to the one process that stores them.

Why a second process at all: with one event loop, taking in webhooks (HTTP parsing, the
verification, answering) competes with handling for the same core, so a burst of traffic
slows every reply. With `server.intake_port` set, `serve` starts an intake process that
answers the webhooks and sends each request's messages here, over a Unix socket; this
process commits them (the same group-commit writer) and answers with their ids. The intake
process answers the provider only after that answer, so nothing answered 200 is lost.

Why not let the intake process write to the database itself: two processes writing one
SQLite file take turns on its lock, and each wait blocks an event loop. One writer, one lock.

A frame is a 4-byte big-endian length and a JSON object: `{"i": id, "m": [message, ...]}`
one way, `{"i": id, "s": [[message_id, is_new, channel, user], ...]}` or `{"i": id, "e": why}`
back; a WeChat replay check is `{"i": id, "r": [timestamp, nonce, signature, forget_before]}`,
answered `{"i": id, "ok": first_time}` (bot/core/link_client.py is the other end). The
replies still leave from this process: sending them from the intake process too was measured
and made a burst worse (that process's loop, busy with the webhooks, then starved the sends).
The socket lives in a directory only this user can enter: whoever can connect is us.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.writer import Stored
from bot.messages import InboundMessage
from bot.ports import ReplayMemory

log = logging.getLogger(__name__)

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # far above a webhook body's limit; a larger length means a broken peer
Submit = Callable[[list[InboundMessage]], Awaitable[list[Stored]]]


class FrameStream:
    """Frames over one stream; writes made in one loop tick leave in one send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._out: list[bytes] = []

    async def read(self) -> dict[str, Any] | None:
        """The next frame, or None when the peer has gone (or sent something that is not a frame)."""
        try:
            (length,) = HEADER.unpack(await self.reader.readexactly(HEADER.size))
            if length > MAX_FRAME:
                log.error("intake link: a frame of %d bytes; closing", length)
                return None
            data = json.loads(await self.reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def send(self, frame: dict[str, Any]) -> None:
        body = json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out += (HEADER.pack(len(body)), body)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if not self.writer.is_closing():
            self.writer.write(b"".join(out))

    async def close(self) -> None:
        self._flush()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class LinkServer:
    """The storing side: each frame's messages go to `submit` (the group-commit writer)."""

    def __init__(self, path: str, submit: Submit, replays: ReplayMemory | None = None) -> None:
        self.path = path
        self.submit = submit
        self.replays = replays
        self._server: asyncio.Server | None = None
        self._streams: set[FrameStream] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._current: FrameStream | None = None  # the intake process now running

    async def health(self) -> str:
        """For /healthz: whether an intake process is connected (serve starts another within seconds)."""
        return "on" if self._current is not None else "down: no intake process connected"

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_FRAME)

    async def stop(self) -> None:
        """After the intake process has stopped: what it sent is stored and answered first."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=10)
        for stream in list(self._streams):
            await stream.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = FrameStream(reader, writer)
        self._streams.add(stream)
        self._current = stream
        try:
            while (frame := await stream.read()) is not None:
                task = asyncio.create_task(self._store(stream, frame))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        finally:
            self._streams.discard(stream)
            if self._current is stream:
                self._current = None
            writer.close()

    async def _store(self, stream: FrameStream, frame: dict[str, Any]) -> None:
        ident = frame.get("i")
        if "r" in frame:
            await self._remember(stream, ident, frame["r"])
            return
        try:
            messages = [InboundMessage.from_json(m) for m in frame["m"]]
        except (KeyError, TypeError, ValueError) as exc:
            stream.send({"i": ident, "e": f"not a message: {exc}"})
            return
        try:
            stored = await self.submit(messages)
        except Exception as exc:  # the transaction failed: the intake answers 503, the provider retries
            stream.send({"i": ident, "e": type(exc).__name__})
            return
        rows = [[s.message_id, s.is_new, s.channel, s.channel_user_id] for s in stored]
        stream.send({"i": ident, "s": rows})

    async def _remember(self, stream: FrameStream, ident: Any, args: Any) -> None:
        """A WeChat push's signed triple, remembered here so that one process writes the database."""
        try:
            timestamp, nonce, signature, forget_before = args
            if self.replays is None:
                raise ValueError("no replay memory here")
            fresh = await self.replays.remember(
                int(timestamp), str(nonce), str(signature), forget_before=forget_before
            )
        except Exception as exc:
            stream.send({"i": ident, "e": type(exc).__name__})
            return
        stream.send({"i": ident, "ok": fresh})


def fresh_socket_path() -> str:
    """A socket path in a new directory of mode 0700: only this user can connect."""
    return os.path.join(tempfile.mkdtemp(prefix="aftersales-link-"), "link.sock")
