"""Passive replies (`wechat.reply_mode = "passive"`): the first reply rides in the webhook's answer.

Why at all: accounts without the 客服 (customer-service) API — unverified subscription
accounts — can only answer this way. How, without giving up "answer within 5 s" or
"a reply is never lost":
- the webhook has already committed the message (nothing is handled before that); it
  then waits, until a deadline counted from the request's arrival (4 s, under WeChat's
  5 s), for the reply whose idempotency key is `reply:<message id>:0` — the first reply
  `Context.reply` queues for that message;
- that reply still leaves through the outbox: when the dispatcher calls the adapter's
  `send()`, the adapter offers it here; the waiting request renders it, writes its answer,
  and only then does `send()` return, so the dispatcher marks the row sent in its usual
  code path, without an API call;
- a reply that comes too late, carries files, or is too long for one passive message,
  and an answer that could not be written, fall back to the API exactly as in `api` mode
  (the request answers `success`).
What no one can know is whether WeChat read an answer we wrote in time; that is the
price of passive replies, and why `api` is the default.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.messages import OutboundMessage

Handover = tuple[OutboundMessage, "asyncio.Future[bool]"]
CONFIRM_SECONDS = 5.0


class PassiveReplies:
    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Handover | None]] = {}

    @staticmethod
    def key_for(message_id: int) -> str:
        return f"reply:{message_id}:0"

    async def wait(self, key: str, deadline: float) -> Handover | None:
        """The reply for `key` and a future to resolve once it is written; None by the deadline."""
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        fut: asyncio.Future[Handover | None] = loop.create_future()
        self._waiting[key] = fut
        try:
            await asyncio.wait({fut}, timeout=remaining)
        finally:
            if self._waiting.get(key) is fut:
                del self._waiting[key]
        # No await since the wait ended: a send() that slipped in before the pop is honoured.
        if fut.done() and not fut.cancelled():
            return fut.result()
        fut.cancel()
        return None

    async def offer(self, out: OutboundMessage, *, fits: bool) -> bool:
        """From send(): True once a waiting request has written `out` as its answer."""
        fut = self._waiting.pop(out.idempotency_key, None)
        if fut is None or fut.done():
            return False
        if not fits:
            fut.set_result(None)  # release the request at once: it answers `success`
            return False
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        fut.set_result((out, written))
        try:
            return await asyncio.wait_for(asyncio.shield(written), CONFIRM_SECONDS)
        except TimeoutError:
            return False


def settle(written: asyncio.Future[bool], ok: bool) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        written.set_result(ok)
