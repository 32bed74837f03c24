"""Closed-loop webhook throughput with wrk: a load generator in C that is not the bottleneck.

A Lua script signs each request (Telegram's secret header) and gives it its own
update and a new chat, alternating the benchmark's two texts, so the bot stores and
queues every one for handling exactly as it would a provider's. The same script drives
the bare aiohttp server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"

SCRIPT = """
local secret = "%(secret)s"
local base = %(base)d
local threads = {}
local counter = 0
local tid = 0
local texts = {"hello", "where is my order PO-2026-0117?"}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
end

function request()
  counter = counter + 1
  local id = base + tid * 10000000 + counter
  local body = string.format(
    '{"update_id":%%d,"message":{"message_id":%%d,"date":%%d,"chat":{"id":%%d,"type":"private"},' ..
    '"from":{"id":%%d,"is_bot":false,"first_name":"Bench"},"text":"%%s"}}',
    id, id, os.time(), id, id, texts[counter %% 2 + 1])
  return wrk.format(nil, "/webhooks/telegram", nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
"""


def available() -> bool:
    return Path(WRK).exists()


async def run(
    port: int,
    secret: str,
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 2,
    base: int = 100_000_000,
    script_dir: Path,
) -> dict[str, Any]:
    """Requests/s and latency of `seconds` of closed-loop posting at `connections` connections."""
    script = script_dir / f"wrk-{port}.lua"
    script.write_text(SCRIPT % {"secret": secret, "base": base})
    proc = await asyncio.create_subprocess_exec(
        WRK,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    for line in out.decode().splitlines():
        if line.startswith("WRKJSON "):
            raw = json.loads(line[len("WRKJSON ") :])
            seconds_run = raw["duration_us"] / 1e6
            return {
                "requests": raw["requests"],
                "errors": raw["errors"],
                "rps": round(raw["requests"] / seconds_run, 1) if seconds_run else 0.0,
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
            }
    raise RuntimeError(f"wrk gave no result: {out.decode()[-500:]} {err.decode()[-500:]}")
