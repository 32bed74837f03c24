"""`aftersales serve` as a real process: the demo flow of `make run`, and a kill -9 that loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxRow
from tests.conftest import TG_SECRET, wait_until
from tests.fakes.base import free_port
from tests.fakes.telegram import FakeTelegram, message_update

ROOT = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.tools.cli", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Server:
    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.tools.cli", "--config", str(self.config), "serve"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )

        async def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()[-2000:]}")
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{self.port}/healthz") as r,
                ):
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(healthy, timeout=30, interval=0.1)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


async def test_make_run_demo_flow_through_simulate(tmp_path: Path, servers: list[Server]) -> None:
    port = free_port()
    demo = (ROOT / "config/demo.toml").read_text()
    demo = (
        demo.replace("port = 8080", f"port = {port}")
        .replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")
        .replace("sqlite+aiosqlite:///var/aftersales.db", f"sqlite+aiosqlite:///{tmp_path}/demo.db")
        .replace('dir = "var/media"', f'dir = "{tmp_path}/media"')
    )
    config = tmp_path / "demo.toml"
    config.write_text(demo)
    assert cli(config, "db", "upgrade").returncode == 0
    seeded = cli(config, "demo", "seed")
    assert seeded.returncode == 0 and "acme" in seeded.stdout
    assert cli(config, "demo", "seed").returncode == 0  # idempotent
    server = Server(config, port, tmp_path / "serve.log")
    servers.append(server)
    await server.start()

    hello = await asyncio.to_thread(cli, config, "simulate", "telegram", "--from", "5550001", "hello")
    assert hello.returncode == 0, hello.stderr
    assert "How can we help you today?" in hello.stdout and "Talk to a person" in hello.stdout
    nihao = await asyncio.to_thread(cli, config, "simulate", "telegram", "--from", "5550002", "你好")
    assert "请问有什么可以帮您" in nihao.stdout
    photo = tmp_path / "bag.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0fake jpeg")
    person = await asyncio.to_thread(
        cli, config, "simulate", "telegram", "--from", "5550001", "--photo", str(photo), "talk to a person"
    )
    assert person.returncode == 0 and "colleague has been notified" in person.stdout
    for channel, sender in (
        ("whatsapp", "whatsapp:+491701234567"),
        ("wechat", "oZh456openid"),
        ("email", "buyer@acme.example"),
    ):
        out = await asyncio.to_thread(cli, config, "simulate", channel, "--from", sender, "hello")
        assert out.returncode == 0 and (
            "How can we help" in out.stdout or "请问有什么可以帮您" in out.stdout
        ), out
    # simulate plays the demo's trusted receiving server (dmarc=pass), so a new address at a
    # client's domain is linked by `email_domains` and sees the order, as the walk-through shows
    linked = await asyncio.to_thread(
        cli, config, "simulate", "email", "--from", "logistics@acme.example", "PO-2026-0117 status"
    )
    assert linked.returncode == 0 and "Order PO-2026-0117: In production" in linked.stdout, linked


async def test_kill_with_pending_outbox_rows_then_restart_delivers_each_reply_once(
    tmp_path: Path, servers: list[Server], fake_telegram: FakeTelegram
) -> None:
    port = free_port()
    db_url = f"sqlite+aiosqlite:///{tmp_path}/kill.db"
    config = tmp_path / "kill.toml"
    config.write_text(
        f"""
[server]
port = {port}
admin_token = "kill-test-admin-token-0123"
[database]
url = "{db_url}"
[media]
dir = "{tmp_path}/media"
[telegram]
enabled = true
token = "{fake_telegram.token}"
webhook_secret = "{TG_SECRET}"
api_base_url = "{fake_telegram.api_base_url}"
file_base_url = "{fake_telegram.file_base_url}"
[outbox]
backoff_base_seconds = 0.2
backoff_max_seconds = 0.5
max_attempts = 1000
"""
    )
    assert cli(config, "db", "upgrade").returncode == 0
    fake_telegram.fail_always("sendMessage", 500)
    first = Server(config, port, tmp_path / "serve1.log")
    servers.append(first)
    await first.start()
    async with aiohttp.ClientSession() as http:
        for chat in (11, 12, 13):
            async with http.post(
                f"http://127.0.0.1:{port}/webhooks/telegram",
                json=message_update(chat, text="hello"),
                headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
            ) as resp:
                assert resp.status == 200
    # all three replies queued and already failing against the provider
    await fake_telegram.wait_for(
        lambda f: (
            {str(c.params.get("chat_id")) for c in f.calls if c.method == "sendMessage"} == {"11", "12", "13"}
        ),
        timeout=20,
    )
    first.kill()
    assert fake_telegram.sent("sendMessage") == []

    fake_telegram.heal()
    second = Server(config, port, tmp_path / "serve2.log")
    servers.append(second)
    await second.start()
    db = Database(db_url)
    try:

        async def all_sent() -> bool:
            async with db.read() as s:
                return set((await s.execute(select(OutboxRow.state))).scalars()) == {"sent"}

        await wait_until(all_sent, timeout=30)
        async with db.read() as s:
            assert len(list((await s.execute(select(OutboxRow))).scalars())) == 3
    finally:
        await db.dispose()
    delivered = sorted(str(c.params["chat_id"]) for c in fake_telegram.sent("sendMessage"))
    assert delivered == ["11", "12", "13"]
