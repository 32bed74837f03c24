"""What every channel adapter provides, and the capped media store they share (the fetch: media_fetch).

An adapter is a parser and a client for one provider; it never decides what to say.
The generic webhook route (bot/webhooks.py) calls verify → parse → (writer) → response.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from aiohttp import web

from bot.messages import Attachment, Channel, InboundMessage, MediaTooLarge, OutboundMessage


class WebhookRejected(Exception):
    """Raised by verify/parse: the request is answered with `status` and nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class ExtraRoute:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    # Header-only verification run before the body is read; raises WebhookRejected.
    precheck: Callable[[web.Request], None] | None = None


@runtime_checkable
class ChannelAdapter(Protocol):
    channel: Channel
    webhook_path: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def verify(self, request: web.Request, body: bytes) -> None:
        """Raise WebhookRejected(403) unless the request provably comes from the provider.

        An adapter may also define `verify_headers(request) -> None`: the checks that need
        no body (a shared secret header, a signature that must be present), run before the
        body is read so a forged request is refused without reading it.
        """

    def parse(self, request: web.Request, body: bytes) -> list[InboundMessage]:
        """Raise WebhookRejected(400) on malformed payloads. An empty list: nothing to store."""

    def webhook_response(self, messages: list[InboundMessage]) -> web.Response: ...

    async def send(self, out: OutboundMessage) -> str:
        """Deliver; return the provider's message id; raise bot.messages.SendError on failure."""

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        """Download to the media store; return the attachment with sha256 and stored_path set.

        Raises MediaTooLarge or MediaRefused; other failures raise whatever they raise.
        """

    def extra_routes(self) -> list[ExtraRoute]: ...


class MediaStore:
    """Files under `root`, named by their sha256 so the same photo is stored once."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    async def save_stream(
        self, chunks: AsyncIterator[bytes], declared_size: int | None = None
    ) -> tuple[str, Path, int]:
        if declared_size is not None and declared_size > self.max_bytes:
            raise MediaTooLarge(declared_size, self.max_bytes)
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise MediaTooLarge(size, self.max_bytes)
                    digest.update(chunk)
                    fh.write(chunk)
            sha = digest.hexdigest()
            final = self.path_for(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            return sha, final, size
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    async def save_bytes(self, data: bytes) -> tuple[str, Path, int]:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.save_stream(one(), len(data))


class LinkMaker(Protocol):
    """Signed, expiring public URLs of stored files, for providers that fetch outbound media by URL
    (Twilio, WeChat articles); bot.core.media.MediaLinks implements it, wired in bot/app.py."""

    def url(self, sha256: str, *, filename: str | None = None) -> str: ...
