"""The measurements, each against fresh servers: reply ladder, webhook ratio, burst, urgent page.

Every bot run starts from an empty database (a backlog left by one step must not slow
the next) and talks to its own fake Bot API process. A "target" is one bot build: the
working tree, or a baseline tree measured alternately with it in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import loadgen, replies, servers, wrk

_wrk_base = itertools.count(1)


@dataclass
class Target:
    name: str
    source: Path
    database: str  # "sqlite" or a PostgreSQL server URL without the database name
    intake: bool = False  # webhooks answered by the intake process (`server.intake_port`)


@contextlib.asynccontextmanager
async def running(target: Target, tmp: Path) -> AsyncIterator[tuple[servers.BotConfig, replies.ReplyLog]]:
    """A fresh database, the fake Bot API and `aftersales serve`; all stopped on the way out."""
    api = servers.free_port()
    work = tmp / uuid.uuid4().hex[:8]
    work.mkdir()
    async with _database(target, work) as url:
        bot = servers.BotConfig(work, url, api, source=target.source, intake=target.intake)
        bot.write()
        bot.upgrade()
        async with servers.process(servers.fake_api(api), api), bot.serve(log=work / "serve.log") as proc:
            bot.pid = proc.pid
            if bot.intake:
                await servers.wait_listening(bot.intake_port, proc)
            yield bot, replies.ReplyLog(f"http://127.0.0.1:{api}")


@contextlib.asynccontextmanager
async def _database(target: Target, work: Path) -> AsyncIterator[str]:
    if target.database == "sqlite":
        yield f"sqlite+aiosqlite:///{work}/bench.db"
        return
    import asyncpg  # only when PostgreSQL is measured

    name = f"aftersales_bench_{work.name}"
    admin = target.database.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(f"{admin}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield f"{target.database}/{name}"
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def url_of(bot: servers.BotConfig) -> str:
    return f"http://127.0.0.1:{bot.webhook_port}/webhooks/telegram"


async def reply_step(target: Target, tmp: Path, rate: float, seconds: float) -> dict[str, Any]:
    """One offered rate: post for `seconds`, then wait (bounded) for the replies."""
    async with running(target, tmp) as (bot, log):
        sent = await loadgen.open_loop(url_of(bot), bot.secret, rate, seconds)
        await log.wait_for(sent.due, timeout=max(5.0, seconds))
    stats = replies.reply_stats(sent.due, log.first, sent.started)
    stats["offered"] = rate
    stats["webhook_errors"] = sent.errors
    stats["webhook_p99_ms"] = round(replies.pct(sent.webhook_ms, 0.99), 1)
    stats["held"] = replies.held(stats)
    return stats


async def reply_ladder(
    targets: list[Target], tmp: Path, rates: list[float], seconds: float, say: Callable[[str], None]
) -> dict[str, list[dict[str, Any]]]:
    """Each rate for each target in turn (alternating), until every target failed two rates."""
    table: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    failed = dict.fromkeys(table, 0)
    for rate in rates:
        live = [t for t in targets if failed[t.name] < 2]
        if not live:
            break
        for target in live:
            row = await reply_step(target, tmp, rate, seconds)
            table[target.name].append(row)
            failed[target.name] += 0 if row["held"] else 1
            say(f"  {target.name:<10} {rate:>6.0f}/s  {_row_text(row)}")
    return table


def _row_text(row: dict[str, Any]) -> str:
    p50, p99 = row["p50_s"], row["p99_s"]
    seen = "all" if row["replied"] == row["messages"] else f"{row['replied']}/{row['messages']}"
    return (
        f"replied {seen} at {row['reply_rate']:.0f}/s, p50 {_s(p50)} p99 {_s(p99)}"
        f"{'  held' if row['held'] else ''}"
    )


def _s(x: float | None) -> str:
    return "  >wait" if x is None else f"{x:6.3f}s"


def capacity(rows: list[dict[str, Any]]) -> float:
    """The reply capacity: the best reply rate seen on the ladder (what saturation sustains).

    Not the highest rate held: a burst at twice that may still be below saturation.
    """
    return float(max((r["reply_rate"] for r in rows), default=0.0))


def highest_held(rows: list[dict[str, Any]]) -> float | None:
    held = [r["offered"] for r in rows if r["held"]]
    return max(held) if held else None


async def webhook_ratio(
    targets: list[Target], tmp: Path, seconds: float, reps: int, connections: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Closed loop with wrk: bare aiohttp and each target alternately, `reps` times; medians."""
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], **{t.name: [] for t in targets}}
    for rep in range(reps):
        port = servers.free_port()
        async with servers.process(servers.bare_server(port), port):
            runs["bare"].append(
                await wrk.run(
                    port,
                    "x",
                    seconds=seconds,
                    connections=connections,
                    base=next(_wrk_base) * 10**9,
                    script_dir=tmp,
                )
            )
        for target in targets:
            async with running(target, tmp) as (bot, _log):
                runs[target.name].append(
                    await wrk.run(
                        bot.webhook_port,
                        bot.secret,
                        seconds=seconds,
                        connections=connections,
                        base=next(_wrk_base) * 10**9,
                        script_dir=tmp,
                    )
                )
        say(
            f"  rep {rep + 1}: "
            + ", ".join(f"{k} {v[-1]['rps']:.0f}/s p99 {v[-1]['p99_ms']:.1f} ms" for k, v in runs.items())
        )
    out: dict[str, Any] = {"connections": connections, "seconds": seconds, "runs": runs}
    bare = statistics.median(r["rps"] for r in runs["bare"])
    for target in targets:
        rps = statistics.median(r["rps"] for r in runs[target.name])
        out[target.name] = {
            "median_rps": rps,
            "median_p99_ms": statistics.median(r["p99_ms"] for r in runs[target.name]),
            "ratio": round(rps / bare, 3) if bare else None,
            "errors": sum(r["errors"] for r in runs[target.name]),
        }
    out["bare"] = {"median_rps": bare, "median_p99_ms": statistics.median(r["p99_ms"] for r in runs["bare"])}
    return out


async def burst(target: Target, tmp: Path, cap: float, seconds: float = 10.0) -> dict[str, Any]:
    """`seconds` at twice `cap`: first replies per second during the burst, and the drain after."""
    rate = max(2.0, 2 * cap)
    async with running(target, tmp) as (bot, log):
        sent = await loadgen.open_loop(url_of(bot), bot.secret, rate, seconds)
        await log.wait_for(sent.due, timeout=max(20.0, 2 * seconds))
    end = sent.started + seconds
    firsts = [(c, t, "") for c, t in log.first.items() if c in sent.due]
    during = replies.per_second(firsts, sent.started, end)[1:]  # the first second is the ramp
    last = max((t for _c, t, _ in firsts), default=end)
    worst = min(during) if during else 0
    return {
        "capacity": cap,
        "offered": rate,
        "seconds": seconds,
        "replies_per_second": during,
        "worst_second": worst,
        "worst_vs_capacity": round(worst / cap, 3) if cap else None,
        "drained": len(firsts) == len(sent.due),
        "drain_s_after_burst": round(max(0.0, last - end), 2),
        "replied": len(firsts),
        "messages": len(sent.due),
    }


URGENT = "URGENT: container stuck at the port, ref {token}"


async def urgent(
    target: Target, tmp: Path, cap: float, seconds: float = 10.0, every: float = 0.5
) -> dict[str, Any]:
    """Background load at half `cap`; an urgent message every `every` s; due → page at the on-call phone."""
    async with running(target, tmp) as (bot, log):
        background = asyncio.create_task(
            loadgen.open_loop(url_of(bot), bot.secret, max(1.0, cap / 2), seconds)
        )
        tokens: dict[str, float] = {}
        for n in range(int(seconds / every)):
            token = f"U{n:04d}x{uuid.uuid4().hex[:6]}"
            chat = loadgen.new_chats(1)
            sent = await loadgen.open_loop(
                url_of(bot), bot.secret, 1000, 0.001, chats=chat, texts=(URGENT.format(token=token),)
            )
            tokens[token] = next(iter(sent.due.values()))
            await asyncio.sleep(every)
        await background
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                await log.poll(http)
                if len(_pages(log, tokens)) == len(tokens):
                    break
                await asyncio.sleep(0.2)
    pages = _pages(log, tokens)
    latencies = [pages[t] - due if t in pages else math.inf for t, due in tokens.items()]
    return {
        "background_rate": max(1.0, cap / 2),
        "urgent_messages": len(tokens),
        "paged": len(pages),
        "p50_s": replies._finite(replies.pct(latencies, 0.5)),
        "p99_s": replies._finite(replies.pct(latencies, 0.99)),
    }


def _pages(log: replies.ReplyLog, tokens: dict[str, float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for chat, at, text in log.arrivals:
        if chat != str(servers.ONCALL_CHAT):
            continue
        for token in tokens:
            if token in text:
                found.setdefault(token, at)
    return found
