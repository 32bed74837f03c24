"""Several real `aftersales serve` processes on one PostgreSQL, a round-robin proxy in front.

The proxy behaves like the nginx site in deploy/: requests go to the processes in turn,
and one that refuses the connection, drops it or answers 503 (draining) is retried on
the next process (`proxy_next_upstream error timeout http_503 non_idempotent`; webhooks
are idempotent: a provider retry is deduplicated). Clients post through it; the fake
Bot API (in the test process) records what each chat received, in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Message, OutboxRow, utcnow
from tests.conftest import TG_SECRET, PgDatabases, _asyncpg_dsn, wait_until
from tests.e2e.test_serve_process import ROOT
from tests.fakes.oncall import write_rota
from tests.fakes.telegram import FakeTelegram, message_update

# Five questions whose answers (config/faq.toml) tell which message a reply is for.
FAQ = [
    ("What is your MOQ?", "MOQ is 500"),
    ("What is your lead time?", "Samples take 7"),
    ("How do I clean the bag?", "damp cloth"),
    ("What materials do you use?", "600D or 1680D"),
    ("Is the bag waterproof?", "light rain"),
]
CONCURRENCY = 8  # outbox.concurrency: the most one kill -9 may send twice
LEASE = 3.0  # cluster.lease_seconds in these tests: a dead process's outbox rows move after this


def config_text(
    tmp_path: Path, name: str, port: int, db_url: str, fake: FakeTelegram, **escalation: str
) -> str:
    extra = "".join(f'{key} = "{value}"\n' for key, value in escalation.items())
    return f"""
[server]
port = {port}
public_url = "http://127.0.0.1:{port}"
admin_token = "cluster-test-admin-token-0123"
[database]
url = "{db_url}"
[media]
dir = "{tmp_path}/media"
[telegram]
enabled = true
token = "{fake.token}"
webhook_secret = "{TG_SECRET}"
api_base_url = "{fake.api_base_url}"
file_base_url = "{fake.file_base_url}"
[outbox]
backoff_base_seconds = 0.2
backoff_max_seconds = 0.5
max_attempts = 1000
concurrency = {CONCURRENCY}
[cluster]
instance = "{name}"
lease_seconds = {LEASE}
sweep_seconds = 0.5
leader_retry_seconds = 0.5
drain_seconds = 0.5
stop_grace_seconds = 5.0
[escalation]
rota_file = "{write_rota(tmp_path, level2=8)}"
{extra}[calendar]
file = ""
[claims]
ocr = false
"""


class Process:
    """One `aftersales serve` with its own config file and log."""

    def __init__(self, tmp_path: Path, name: str, config: str, port: int) -> None:
        self.name, self.port = name, port
        self.config = tmp_path / f"{name}.toml"
        self.config.write_text(config)
        self.log = tmp_path / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped_in: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.tools.cli", "--config", str(self.config), "serve"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )

    async def start(self, timeout: float = 60) -> None:
        self.spawn()
        await wait_until(self.healthy, timeout=timeout, interval=0.1)

    async def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        return (await self.health())[0] == 200

    async def health(self) -> tuple[int, dict[str, Any]]:
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as r:
                return r.status, await r.json()
        except (aiohttp.ClientError, TimeoutError):
            return 0, {}

    async def leads(self) -> list[str]:
        status, body = await self.health()
        return list(body.get("leads", [])) if status == 200 else []

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    async def terminate(self) -> int:
        """SIGTERM, then wait for the exit; returns the exit code and records how long it took."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.proc.wait, 30)
        self.stopped_in = time.monotonic() - started
        return code

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if needle in line]


class Proxy:
    """Round robin over the processes; a refused, dropped or 503 request goes to the next one."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self._next = 0
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None
        self.retried: list[str] = []  # why a request went on to the next process

    async def start(self) -> Proxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        return self

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def _forward(self, request: web.Request) -> web.Response:
        assert self.http is not None
        body = await request.read()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in {"content-type", "x-telegram-bot-api-secret-token"}
        }
        first = self._next
        self._next += 1
        for k in range(len(self.processes) * 3):  # every process in turn from this request's own start
            target = self.processes[(first + k) % len(self.processes)]
            try:
                async with self.http.request(
                    request.method, target.url + request.path_qs, data=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as r:  # fmt: skip
                    if r.status == 503:
                        self.retried.append(f"{target.name}: 503")
                        continue
                    return web.Response(status=r.status, body=await r.read())
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.retried.append(f"{target.name}: {type(exc).__name__} {exc}")
                continue
        return web.Response(status=502, text="no process answered")


class Front(Protocol):
    """What Load posts through: the Proxy above, or nginx running the shipped site (tests/deploy)."""

    http: aiohttp.ClientSession | None

    @property
    def url(self) -> str: ...


@dataclass
class Load:
    """40 chats × 5 questions, each chat posting its next question once the last was answered."""

    proxy: Front
    chats: list[int] = field(default_factory=lambda: list(range(700001, 700041)))
    statuses: list[int] = field(default_factory=list)

    async def post(self, chat: int, text: str) -> int:
        assert self.proxy.http is not None
        async with self.proxy.http.post(
            f"{self.proxy.url}/webhooks/telegram",
            json=message_update(chat, text=text),
            headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
        ) as r:
            self.statuses.append(r.status)
            return r.status

    async def wave(self, index: int) -> None:
        """Question `index` from every chat at once."""
        await asyncio.gather(*(self.post(chat, FAQ[index][0]) for chat in self.chats))

    async def run(self, between: Callable[[int], Awaitable[None]] | None = None) -> None:
        async def one_chat(chat: int) -> None:
            for question, _marker in FAQ:
                await self.post(chat, question)

        if between is None:
            await asyncio.gather(*(one_chat(chat) for chat in self.chats))
            return
        for index in range(len(FAQ)):
            await self.wave(index)
            await between(index)

    def answered(self) -> int:
        return len(self.statuses)


def replies_in_order(fake: FakeTelegram, chat: int) -> tuple[list[int], int]:
    """The FAQ answers a chat received, as question numbers with repeats collapsed; and the repeats."""
    seen: list[int] = []
    for text in fake.texts_to(chat):
        for index, (_question, marker) in enumerate(FAQ):
            if marker in text:
                seen.append(index)
    collapsed = [n for i, n in enumerate(seen) if i == 0 or seen[i - 1] != n]
    return collapsed, len(seen) - len(collapsed)


async def empty_database(pg: PgDatabases) -> str:
    """A database with no tables at all: start-up from nothing, as on a fresh server."""
    name = f"aftersales_t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_asyncpg_dsn(pg.url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    pg.created.append(name)
    return pg.url_for(name)


async def settled(db_url: str, inbound: int, timeout: float = 90) -> None:
    """Every inbound message stored is handled and no outbox row is waiting or in flight."""
    db = Database(db_url)
    try:

        async def done() -> bool:
            async with db.read() as s:
                stored = (
                    await s.execute(
                        select(func.count()).select_from(Message).where(Message.direction == "in")
                    )
                ).scalar_one()
                unhandled = (
                    await s.execute(
                        select(func.count())
                        .select_from(Message)
                        .where(Message.direction == "in", Message.handled_at.is_(None))
                    )
                ).scalar_one()
                busy = (
                    await s.execute(
                        select(func.count())
                        .select_from(OutboxRow)
                        .where(OutboxRow.state.in_(("pending", "sending")))
                    )
                ).scalar_one()
            return bool(stored >= inbound and unhandled == 0 and busy == 0)

        await wait_until(done, timeout=timeout, interval=0.2)
    finally:
        await db.dispose()


async def inbound_rows(db_url: str) -> list[Message]:
    db = Database(db_url)
    try:
        async with db.read() as s:
            return list(
                (
                    await s.execute(select(Message).where(Message.direction == "in").order_by(Message.id))
                ).scalars()
            )
    finally:
        await db.dispose()


def handled_in_arrival_order(rows: list[Message]) -> bool:
    """Each chat's messages were handled one after another in the order they were stored."""
    per_chat: dict[str, list[Message]] = {}
    for row in rows:
        per_chat.setdefault(row.channel_user_id, []).append(row)
    for messages in per_chat.values():
        stamps = [m.handled_at for m in messages]
        if any(a is None or b is None or a > b for a, b in itertools.pairwise(stamps)):
            return False
    return True


def local_clock(zone: str, after_seconds: float) -> tuple[str, datetime]:
    """ "HH:MM:SS" in `zone` that many seconds from now, and that moment in UTC."""
    at = (utcnow() + timedelta(seconds=after_seconds)).replace(microsecond=0)
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S"), at
