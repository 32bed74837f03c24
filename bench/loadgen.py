"""Open-loop load: signed Telegram updates posted on a fixed schedule, whatever the server does.

A closed loop (send, wait, send) slows down with the server and hides its queue; here
message i is due at start + i / rate and its latency counts from that moment, so a
slow webhook shows up in the figures instead of lowering the offered rate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXTS = ("hello", "where is my order PO-2026-0117?")  # the mix: a greeting and an order question
_chats = itertools.count(20_000_000)  # every message from a new chat, unique across a run
_updates = itertools.count(50_000_000)


def update(chat: int, text: str) -> bytes:
    n = next(_updates)
    return json.dumps(
        {
            "update_id": n,
            "message": {
                "message_id": n,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "Bench"},
                "text": text,
            },
        }
    ).encode()


def new_chats(count: int) -> list[int]:
    return [next(_chats) for _ in range(count)]


@dataclass
class Sent:
    """What the generator did: per chat, the moment its message was due (monotonic seconds)."""

    due: dict[str, float] = field(default_factory=dict)
    webhook_ms: list[float] = field(default_factory=list)  # due → webhook's answer
    errors: int = 0
    started: float = 0.0
    finished: float = 0.0


async def open_loop(
    url: str,
    secret: str,
    rate: float,
    seconds: float,
    *,
    texts: tuple[str, ...] = TEXTS,
    connections: int = 256,
    chats: list[int] | None = None,
    bodies_for: Callable[[int, int], bytes] | None = None,
) -> Sent:
    """Post `rate × seconds` updates on schedule; `chats` (one per message) default to new ones."""
    total = max(1, int(rate * seconds))
    chats = chats if chats is not None else new_chats(total)
    make = bodies_for or (lambda i, chat: update(chat, texts[i % len(texts)]))
    bodies = [make(i, chat) for i, chat in enumerate(chats[:total])]
    headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
    sent = Sent()
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(i: int, due: float) -> None:
            try:
                async with http.post(url, data=bodies[i], headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        sent.errors += 1
            except (aiohttp.ClientError, TimeoutError):
                sent.errors += 1
            sent.webhook_ms.append((time.monotonic() - due) * 1000)

        tasks: list[asyncio.Task[None]] = []
        start = sent.started = time.monotonic()
        i = 0
        while i < total:
            now = time.monotonic()
            while i < total and start + i / rate <= now:
                due = start + i / rate
                sent.due[str(chats[i])] = due
                tasks.append(asyncio.create_task(one(i, due)))
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        sent.finished = time.monotonic()
    return sent
