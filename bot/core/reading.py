"""A stored message as a worker handles it: the adapter's deferred parse, its files fetched and read.

All of this runs before the handling transaction, so slow I/O (downloads, OCR) never holds
the write lock, and a crash before the commit leaves the stored row as it was: the next
worker reads it again. What the reading changed (the provider library's full parse of an
update the webhook only glanced at, the names read off a contact card) is written with the
row's mark-handled, in the same statement.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.metrics import Metrics
from bot.messages import Attachment, InboundMessage, MediaRefused, MediaTooLarge
from bot.ports import MediaFetcher, StoredReader
from storage.repos.messages import Unhandled

log = logging.getLogger(__name__)

Content = tuple[str, dict[str, Any]] | None  # a row's new text and payload when handled; None: unchanged


@dataclass(slots=True)
class Reading:
    message: InboundMessage
    problems: list[Attachment]  # files that could not be fetched: the client is told
    content: Content


class MessageReading:
    def __init__(
        self,
        fetchers: Mapping[str, MediaFetcher],
        metrics: Metrics,
        *,
        stored_readers: Mapping[str, StoredReader] | None = None,
        media_readers: Sequence[Callable[[InboundMessage], Awaitable[None]]] = (),
    ) -> None:
        self.fetchers = fetchers
        self.metrics = metrics
        self.stored_readers = dict(stored_readers or {})  # a webhook's deferred parse, per channel
        self.media_readers = list(media_readers)  # slow reading of fetched files (OCR)

    async def read(self, row: Unhandled) -> Reading:
        inbound, payload = self._parse(row)
        problems = await self._fetch_media(inbound)
        for reader in self.media_readers:
            try:
                await reader(inbound)
            except Exception:
                log.exception("media reader failed on message %s", row.id)
        content = None
        if payload is not None or inbound.text != row.text:
            kept = payload or row.payload
            content = (inbound.text, {**kept, "text": inbound.text, "extra": inbound.extra})
        return Reading(inbound, problems, content)

    def _parse(self, row: Unhandled) -> tuple[InboundMessage, dict[str, Any] | None]:
        """The message, and the payload its row gets when the webhook deferred the parse."""
        stored = row.inbound()
        reader = self.stored_readers.get(str(stored.channel))
        read = reader.read_stored(stored) if reader is not None else stored
        if read is stored:
            return stored, None
        if read is None:  # read in full, nobody said anything (a service message): kept, not answered
            stored.extra = {"no_reply": True}
            return stored, stored.to_json()
        return read, read.to_json()

    async def _fetch_media(self, inbound: InboundMessage) -> list[Attachment]:
        problems: list[Attachment] = []
        fetcher = self.fetchers.get(str(inbound.channel))
        for att in inbound.attachments:
            if att.stored_path or fetcher is None:
                continue
            try:
                await fetcher.fetch_media(att)
            except MediaTooLarge:
                att.error = "too_large"
            except MediaRefused as exc:
                att.error = "refused"
                log.warning("media refused: %s", exc)
            except Exception:
                att.error = "fetch_failed"
                log.exception("media fetch failed")
            if att.error:
                problems.append(att)
                self.metrics.media_refused.labels(str(inbound.channel), att.error).inc()
        return problems
