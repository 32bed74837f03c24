"""Replies per second with one and with two `aftersales serve` processes on one PostgreSQL.

For each process count: a fresh database (migrated with `aftersales db upgrade`), the
processes started against a fake Bot API (tests/fakes/telegram.py, in this process,
recording when each reply arrives), and `--messages` signed Telegram updates — an FAQ
question, each from a new chat — posted over `--connections` connections, alternating
between the processes (as a round-robin balancer would). Measured:

- replies/s: messages / (first post → last reply received by the fake);
- reply latency p50/p99: a message's post → its reply at the fake;
- record lag p50/p99/max (issue 12, goal 6): the fake's receipt of a reply → the outbox
  row's `sent_at`, i.e. how far recording a send trails the provider accepting it.

    python bench/processes.py [--messages 2000] [--connections 32] [--processes 1,2]
                              [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Prints a table and writes JSON to bench/results/processes-<time>.json. The load
generator and the fake share this process and the machine's cores with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.db import Database  # noqa: E402
from storage.models import Message, OutboxRow  # noqa: E402
from tests.fakes.base import free_port  # noqa: E402
from tests.fakes.telegram import FakeTelegram, message_update  # noqa: E402

SECRET = "bench-webhook-secret-0123"
QUESTION = "What is your MOQ?"


def config(tmp: Path, name: str, port: int, db_url: str, fake: FakeTelegram) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f"""
[server]
port = {port}
public_url = "http://127.0.0.1:{port}"
admin_token = "bench-admin-token-0123456789"
flood_per_minute = 0
[database]
url = "{db_url}"
[media]
dir = "{tmp}/media"
[telegram]
enabled = true
token = "{fake.token}"
webhook_secret = "{SECRET}"
api_base_url = "{fake.api_base_url}"
file_base_url = "{fake.file_base_url}"
[cluster]
instance = "{name}"
[escalation]
rota_file = "{ROOT}/tests/fakes/rota.toml"
[calendar]
file = ""
[claims]
ocr = false
"""
    )
    return path


async def fresh_database(admin_url: str) -> str:
    name = f"aftersales_bench_{uuid.uuid4().hex[:8]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, db_url: str) -> None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    finally:
        await conn.close()


def cli(cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=(cfg.parent / f"{cfg.stem}-{args[0]}.log").open("ab"),
    )


async def healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"serve on port {port} did not become healthy")


async def record_buckets(ports: list[int]) -> dict[str, float]:
    """`aftersales_outbox_record_seconds` buckets (cumulative counts by `le`) summed over the processes."""
    sums: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        for port in ports:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
            for line in text.splitlines():
                if line.startswith("aftersales_outbox_record_seconds_bucket"):
                    le = line.split('le="', 1)[1].split('"', 1)[0]
                    sums[le] = sums.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(count: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    fake = await FakeTelegram().start()
    db_url = await fresh_database(args.database_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = [free_port() for _ in range(count)]
        cfgs = [config(tmp, f"b{count}-{i + 1}", port, db_url, fake) for i, port in enumerate(ports)]
        upgrade = cli(cfgs[0], "db", "upgrade")
        if await asyncio.to_thread(upgrade.wait) != 0:
            raise RuntimeError("db upgrade failed")
        procs = [cli(cfg, "serve") for cfg in cfgs]
        await asyncio.gather(*(healthy(port) for port in ports))

        chats = list(range(900_000_001, 900_000_001 + args.messages))
        posted: dict[int, float] = {}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for chat in chats:
            queue.put_nowait(chat)
        wall_start = time.time()
        mono_start = time.monotonic()

        async def worker(index: int, http: aiohttp.ClientSession) -> None:
            while not queue.empty():
                chat = queue.get_nowait()
                port = ports[chat % count]  # alternate, as a round-robin balancer does
                posted[chat] = time.monotonic()
                async with http.post(
                    f"http://127.0.0.1:{port}/webhooks/telegram",
                    json=message_update(chat, text=QUESTION),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as r:
                    if r.status != 200:
                        raise RuntimeError(f"webhook answered {r.status}")

        connector = aiohttp.TCPConnector(limit=args.connections)
        async with aiohttp.ClientSession(connector=connector) as http:
            await asyncio.gather(*(worker(i, http) for i in range(args.connections)))
        posted_in = time.monotonic() - mono_start
        await fake.wait_for(
            lambda f: len({str(c.params.get("chat_id")) for c in f.sent("sendMessage")}) >= args.messages,
            timeout=args.timeout,
        )
        first_reply: dict[str, float] = {}
        for call in fake.sent("sendMessage"):
            first_reply.setdefault(str(call.params.get("chat_id")), call.at)
        elapsed = max(first_reply.values()) - mono_start
        latencies = [first_reply[str(chat)] - posted[chat] for chat in chats]

        # recording lag: the fake's receipt (monotonic → wall) against the row's sent_at
        received_wall = {chat: wall_start + (at - mono_start) for chat, at in first_reply.items()}
        db = Database(db_url)
        try:
            deadline = time.monotonic() + 30
            while True:
                async with db.read() as s:
                    rows = list(
                        (await s.execute(select(OutboxRow).where(OutboxRow.kind == "reply"))).scalars()
                    )
                if all(r.sent_at for r in rows) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            async with db.read() as s:
                span = (
                    await s.execute(
                        select(func.min(Message.created_at), func.max(Message.handled_at)).where(
                            Message.direction == "in"
                        )
                    )
                ).one()
        finally:
            await db.dispose()
        handled_in = (span[1] - span[0]).total_seconds()
        lags = [
            (r.sent_at.timestamp() - received_wall[r.channel_user_id]) * 1000
            for r in rows
            if r.sent_at and r.channel_user_id in received_wall
        ]
        buckets = await record_buckets(ports)
        total = buckets.get("+Inf", 0.0) or 1.0
        return {
            "processes": count,
            "messages": args.messages,
            "posted_in_s": round(posted_in, 2),
            "replies_per_s": round(args.messages / elapsed, 1),
            "handled_per_s": round(args.messages / handled_in, 1),
            "reply_latency_p50_s": round(statistics.median(latencies), 3),
            "reply_latency_p99_s": round(pct(latencies, 0.99), 3),
            "record_lag_p50_ms": round(statistics.median(lags), 1),
            "record_lag_p99_ms": round(pct(lags, 0.99), 1),
            "record_lag_max_ms": round(max(lags), 1),
            "replies_sent_twice": len(fake.sent("sendMessage")) - len(first_reply),
            # the servers' own histogram (send accepted → recorded), summed over the processes
            "recorded_within_20ms": round(buckets.get("0.02", 0.0) / total, 3),
            "recorded_within_50ms": round(buckets.get("0.05", 0.0) / total, 3),
            "recorded_within_100ms": round(buckets.get("0.1", 0.0) / total, 3),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await fake.close()
        await drop_database(args.database_url, db_url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "AFTERSALES_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="aftersales-bench-") as tmp:
        for count in (int(n) for n in args.processes.split(",")):
            result = await run(count, args, Path(tmp))
            results.append(result)
            r = result
            print(
                f"{count} process(es): {r['replies_per_s']:>7.1f} replies/s"
                f" ({r['handled_per_s']:.0f} handled/s)"
                f"  latency p50 {r['reply_latency_p50_s']:.2f}s p99 {r['reply_latency_p99_s']:.2f}s"
                f"  record lag p50 {r['record_lag_p50_ms']:.0f} ms p99 {r['record_lag_p99_ms']:.0f} ms"
                f" max {r['record_lag_max_ms']:.0f} ms; within 50 ms by the servers' clock:"
                f" {r['recorded_within_50ms']:.0%}",
                flush=True,
            )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S%z")
    out = ROOT / "bench" / "results" / f"processes-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
