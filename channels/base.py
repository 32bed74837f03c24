"""The capped media store every adapter shares (the fetch itself: channels/media_fetch.py).

What an adapter is — its roles (webhook or polling ingress, sender with capabilities,
media fetcher) — is declared in bot/ports.py; an adapter is a parser and a client for
one provider and never decides what to say.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from bot.messages import MediaTooLarge


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
