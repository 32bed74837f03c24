"""Webhook load benchmark: `aftersales serve` against a bare aiohttp server, same load, same run.

An open-loop generator on loopback posts signed Telegram updates at a fixed offered
rate over a bounded connection pool and records, per request, the time from its
scheduled send to the answer (so queueing behind a slow server counts). The bot runs
in sandbox mode on a fresh SQLite database: every update is persisted by the
group-commit writer before its 200, then handled and answered from the outbox.

    python bench/webhook_load.py [--rate 3000] [--seconds 10] [--connections 32]

Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web

    async def hook(request):
        await request.read()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/telegram", hook)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def update(i: int) -> bytes:
    chat = 7_000_000 + i % 500  # 500 distinct clients, so handling runs concurrently across conversations
    return json.dumps(
        {
            "update_id": 10_000_000 + i,
            "message": {
                "message_id": i,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "Bench"},
                "text": "hello, where is my order?",
            },
        }
    ).encode()


async def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start listening")


async def load(port: int, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/webhooks/telegram"
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(connections)
    bodies = [update(i) for i in range(total)]
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        # warm up the connection pool and the server
        for i in range(50):
            async with http.post(url, data=update(total + i), headers=headers) as r:
                await r.read()
        start = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with sem:
                try:
                    async with http.post(url, data=bodies[i], headers=headers) as resp:
                        await resp.read()
                        if resp.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
            latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": total,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "throughput_rps": round(total / elapsed, 1),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


def write_config(tmp: Path, port: int) -> Path:
    cfg = tmp / "bench.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [server]
            host = "127.0.0.1"
            port = {port}
            sandbox = true
            admin_token = "bench-admin"
            flood_per_minute = 1000000  # counted as ever, but 60 updates a chat in 10 s all get answers
            [database]
            url = "sqlite+aiosqlite:///{tmp}/bench.db"
            [media]
            dir = "{tmp}/media"
            [telegram]
            enabled = true
            token = "1:bench"
            webhook_secret = "{SECRET}"
            """
        )
    )
    return cfg


async def bench_bot(rate: float, seconds: float, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        cfg = write_config(tmp, port)
        exe = [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg)]
        subprocess.run([*exe, "db", "upgrade"], check=True, cwd=ROOT, capture_output=True)
        proc = subprocess.Popen(
            [*exe, "serve"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await wait_listening(port, proc)
            result = await load(port, rate, seconds, connections)
            result["rss_mb"] = rss_mb(proc.pid)
            return result
        finally:
            stop(proc)


async def bench_bare(rate: float, seconds: float, connections: int) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    try:
        await wait_listening(port, proc)
        return await load(port, rate, seconds, connections)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=3000, help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    bare = await bench_bare(args.rate, args.seconds, args.connections)
    bot = await bench_bot(args.rate, args.seconds, args.connections)
    ratio = round(bot["throughput_rps"] / bare["throughput_rps"], 3) if bare["throughput_rps"] else None
    rows = [("bare aiohttp", bare), ("aftersales serve", bot)]
    print(f"offered {args.rate:.0f} req/s for {args.seconds:.0f} s over {args.connections} connections")
    print(f"{'server':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in rows:
        print(
            f"{name:<18}{r['throughput_rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['errors']:>8}"
        )
    print(f"ratio (bot / bare throughput): {ratio}")
    out = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "offered_rps": args.rate,
        "seconds": args.seconds,
        "connections": args.connections,
        "bare": bare,
        "bot": bot,
        "ratio": ratio,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"webhook_load-{out['at'].replace(':', '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
