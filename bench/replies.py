"""What the client felt: from the fake Bot API's log, when each chat got its first reply.

A message counts as replied when any send to its chat reached the fake; its latency is
that arrival minus the moment the load generator was due to post it. Messages never
answered within the wait count as infinitely late, so they push the p99 up instead of
vanishing from it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class ReplyLog:
    """Incremental reader of the fake's sends: chat → first arrival, and every arrival in order."""

    base: str  # http://127.0.0.1:port
    first: dict[str, float] = field(default_factory=dict)
    arrivals: list[tuple[str, float, str]] = field(default_factory=list)
    _seen: int = 0

    async def poll(self, http: aiohttp.ClientSession) -> None:
        async with http.get(f"{self.base}/_replies", params={"after": str(self._seen)}) as resp:
            rows = await resp.json()
        self._seen += len(rows)
        for chat, at, text in rows:
            self.arrivals.append((chat, at, text))
            self.first.setdefault(chat, at)

    async def wait_for(self, chats: Iterable[str], timeout: float, quiet: float = 0.0) -> None:
        """Until every chat has a reply, or `timeout` passes (or nothing new for `quiet` seconds)."""
        wanted = set(chats)
        deadline = time.monotonic() + timeout
        last_change, last_count = time.monotonic(), -1
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                await self.poll(http)
                if wanted <= self.first.keys():
                    return
                if len(self.arrivals) != last_count:
                    last_change, last_count = time.monotonic(), len(self.arrivals)
                elif quiet and time.monotonic() - last_change > quiet:
                    return
                await asyncio.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)]


def reply_stats(due: dict[str, float], first: dict[str, float], started: float) -> dict[str, Any]:
    """Replied count, reply throughput (replies / first due → last reply), p50/p99 seconds."""
    latencies = [first[c] - t if c in first else math.inf for c, t in due.items()]
    replied = [first[c] for c in due if c in first]
    span = (max(replied) - started) if replied else 0.0
    return {
        "messages": len(due),
        "replied": len(replied),
        "reply_rate": round(len(replied) / span, 1) if span > 0 else 0.0,
        "p50_s": _finite(pct(latencies, 0.50)),
        "p99_s": _finite(pct(latencies, 0.99)),
    }


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 3)


def held(stats: dict[str, Any], p99_limit: float = 1.0) -> bool:
    """The rate is held: every message replied, p99 within the limit."""
    p99 = stats["p99_s"]
    return stats["replied"] == stats["messages"] and p99 is not None and p99 <= p99_limit


def per_second(arrivals: list[tuple[str, float, str]], start: float, end: float) -> list[int]:
    """Replies reaching the fake in each whole second from `start` to `end`."""
    buckets = [0] * max(1, math.ceil(end - start))
    for _chat, at, _text in arrivals:
        if start <= at < end:
            buckets[int(at - start)] += 1
    return buckets
