"""The processes a benchmark run starts: the bot (`aftersales serve`), a bare aiohttp server, the fake API.

Every server is its own process, started and stopped here, so no run leaves one behind.
The bot runs outside the sandbox with real-looking secrets, its sends going over HTTP
to the fake Bot API on loopback, exactly as they would go to Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.base import free_port

ROOT = Path(__file__).resolve().parent.parent
ONCALL_CHAT = 1001  # the on-call phone: a Telegram chat on the fake Bot API

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

ROTA = textwrap.dedent(
    f"""
    timezone = "UTC"

    [staff.oncall]
    name = "On Call"
    telegram_chat_id = {ONCALL_CHAT}
    roles = ["qc", "sales", "manager"]

    [rotations.primary]
    members = ["oncall"]
    period = "weekly"
    handoff = "00:00"
    start = "2026-01-05"

    [rotations.secondary]
    members = ["oncall"]
    period = "weekly"
    handoff = "00:00"
    start = "2026-01-05"

    [policies.urgent]
    levels = [{{ notify = ["rotation:primary"], after_seconds = 0 }},
              {{ notify = ["rotation:secondary"], after_seconds = 600 }}]
    rounds = 1

    [policies.default]
    levels = [{{ notify = ["rotation:primary"], after_seconds = 0 }}]
    rounds = 1

    [routing]
    urgent = "urgent"
    claim = "default"
    handoff = "default"
    default = "default"
    """
)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
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
    raise RuntimeError(f"server on port {port} did not start listening")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.asynccontextmanager
async def process(
    argv: list[str],
    port: int,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=out)
    try:
        await wait_listening(port, proc)
        yield proc
    finally:
        stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def bare_server(port: int) -> list[str]:
    return [sys.executable, "-c", BARE_SERVER, str(port)]


def fake_api(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.fakeapi", str(port)]


@dataclass
class BotConfig:
    """One bot under test: its code (a source tree), its database and its secrets."""

    tmp: Path
    database_url: str
    api_port: int
    source: Path = ROOT  # another tree: a baseline checkout measured in the same run
    port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    token: str = field(
        default_factory=lambda: f"7{secrets.randbelow(10**9):09d}:AA{secrets.token_urlsafe(32)}"
    )
    intake: bool = False  # webhooks answered by the intake process (`server.intake_port`)
    intake_port: int = field(default_factory=free_port)
    pid: int = 0  # of `serve`, once running
    admin_token: str = field(default_factory=lambda: secrets.token_hex(20))

    @property
    def path(self) -> Path:
        return self.tmp / "bench.toml"

    def write(self) -> None:
        (self.tmp / "rota.toml").write_text(ROTA)
        self.path.write_text(
            textwrap.dedent(
                f"""
                [server]
                host = "127.0.0.1"
                port = {self.port}
                sandbox = false
                public_url = "http://127.0.0.1:{self.port}"
                admin_token = "{self.admin_token}"
                flood_per_minute = 20
                {f"intake_port = {self.intake_port}" if self.intake else ""}
                [database]
                url = "{self.database_url}"
                [media]
                dir = "{self.tmp}/media"
                allow_loopback = true
                [telegram]
                enabled = true
                token = "{self.token}"
                webhook_secret = "{self.secret}"
                api_base_url = "http://127.0.0.1:{self.api_port}/bot"
                file_base_url = "http://127.0.0.1:{self.api_port}/file/bot"
                [escalation]
                rota_file = "{self.tmp}/rota.toml"
                [calendar]
                file = ""
                [claims]
                ocr = false
                """
            )
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.source)
        return env

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bot.tools.cli", "--config", str(self.path), *args]

    def upgrade(self) -> None:
        done = subprocess.run(self.cli("db", "upgrade"), cwd=self.source, env=self.env(), capture_output=True)
        if done.returncode:
            raise RuntimeError(f"db upgrade failed in {self.source}: {done.stderr.decode()[-2000:]}")

    @property
    def webhook_port(self) -> int:
        return self.intake_port if self.intake else self.port

    def serve(
        self, log: Path | None = None
    ) -> contextlib.AbstractAsyncContextManager[subprocess.Popen[bytes]]:
        return process(self.cli("serve"), self.port, cwd=self.source, env=self.env(), log=log)
