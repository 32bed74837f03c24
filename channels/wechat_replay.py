"""Replay protection for WeChat pushes: a clock window on `timestamp` and a shared memory of triples.

WeChat's signature covers only (token, timestamp, nonce), never the body in plain mode,
so a captured query stays valid for ever unless we refuse it. Two checks:

- the `timestamp` must be within `max_clock_skew_seconds` of our clock;
- the (timestamp, nonce, signature) triple — in safe mode with `msg_signature` added —
  must not have been accepted before. The triples live in a shared `ReplayMemory` (storage: one row each,
  a conflicting insert means a replay), so every process sharing the database refuses
  the second copy, wherever the first one landed. Rows older than the window are pruned.

A retry by WeChat of the same message carries its own triple and is still answered by
the MsgId de-duplication downstream; only the byte-identical request is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.ports import ReplayMemory, WebhookRejected

NONCE_MAX = 64  # the column width; WeChat's nonces are about ten digits
PRUNE_EVERY = 60.0  # seconds between deletions of expired triples (per process)


class ReplayGuard:
    def __init__(
        self, window_seconds: int, memory: ReplayMemory | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.window = window_seconds
        self.clock = clock
        self.memory = memory
        self._last_prune = float("-inf")

    def fresh_timestamp(self, raw: str) -> int:
        """The request's timestamp as an int, or 403 when it is not one or falls outside the window."""
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise WebhookRejected(403, "timestamp is not a number of seconds")
        ts = int(raw)
        skew = abs(self.clock() - ts)
        if skew > self.window:
            raise WebhookRejected(
                403, f"timestamp is {int(skew)} s from our clock (allowed {self.window} s): replay refused"
            )
        return ts

    async def accept(self, timestamp: int, nonce: str, signature: str) -> None:
        """Record the triple of a fully verified request; 403 if it had been accepted already."""
        if len(nonce) > NONCE_MAX:
            raise WebhookRejected(403, "nonce too long")
        if self.memory is None:
            raise RuntimeError("wechat replay guard has no replay memory")
        now = self.clock()
        forget_before = None
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            forget_before = int(now) - self.window
        first = await self.memory.remember(timestamp, nonce, signature, forget_before=forget_before)
        if not first:
            raise WebhookRejected(403, "this signed request was already accepted: replay refused")
