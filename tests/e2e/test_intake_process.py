"""`serve` with `server.intake_port`: a second process answers the webhooks, the first stores and replies.

Real processes throughout: `aftersales serve` starts `aftersales intake`, a client's update
posted to the intake port is answered at the fake Bot API, and a kill -9 of either
process loses nothing that was answered 200.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Message, OutboxRow
from tests.conftest import TG_SECRET, wait_until
from tests.e2e.cluster_kit import config_text
from tests.e2e.test_serve_process import Server, cli
from tests.fakes.base import free_port
from tests.fakes.telegram import FakeTelegram, message_update

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry))
    return found


def config_for(tmp_path: Path, fake: FakeTelegram, port: int, intake: int) -> tuple[Path, str]:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    config = tmp_path / "intake.toml"
    text = config_text(tmp_path, "intake", port, db_url, fake)
    server = f"[server]\nintake_port = {intake}\nmax_body_bytes = 65536\n"
    config.write_text(text.replace("[server]\n", server, 1))
    assert cli(config, "db", "upgrade").returncode == 0
    return config, db_url


async def post(url: str, body: bytes, headers: dict[str, str] = HEADERS) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status


async def intake_answers(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
            return r.status == 200 and (await r.json())["role"] == "intake"
    except aiohttp.ClientError:
        return False


async def test_the_intake_process_answers_webhooks_and_the_main_process_replies(
    tmp_path: Path, servers: list[Server], fake_telegram: FakeTelegram
) -> None:
    port, intake = free_port(), free_port()
    config, db_url = config_for(tmp_path, fake_telegram, port, intake)
    main = Server(config, port, tmp_path / "serve.log")
    servers.append(main)
    await main.start()
    await wait_until(lambda: intake_answers(intake), timeout=30, interval=0.1)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        assert (await r.json())["details"]["intake"] == "on"  # serve's own health says it is connected
    hook = f"http://127.0.0.1:{intake}/webhooks/telegram"
    assert await post(hook, json.dumps(message_update(41, text="hello")).encode()) == 200
    await fake_telegram.wait_for(
        lambda f: any(str(c.params.get("chat_id")) == "41" for c in f.sent("sendMessage"))
    )
    # the same checks as the main process's webhook, before anything is stored
    assert await post(hook, b"{}", {"X-Telegram-Bot-Api-Secret-Token": "forged"}) == 403
    assert await post(hook, b"not json") == 400
    assert await post(hook, b"x" * 70_000) == 413
    status = await post(f"http://127.0.0.1:{intake}/api/conversations", b"")
    assert status in (404, 405)  # the API, the console and the rest stay with the main process
    db = Database(db_url)
    try:
        async with db.read() as s:
            inbound = select(func.count()).select_from(Message).where(Message.direction == "in")
            assert (await s.execute(inbound)).scalar_one() == 1  # stored once, by the main process

        assert main.proc is not None
        (child,) = children(main.proc.pid)
        await wait_until(lambda: _all_sent(db), timeout=20)  # the reply recorded, with the provider's id

        os.kill(child, signal.SIGKILL)  # the intake process dies: serve starts another
        await wait_until(lambda: intake_answers(intake), timeout=30, interval=0.1)
        assert children(main.proc.pid) != [child]
        assert await post(hook, json.dumps(message_update(42, text="hello")).encode()) == 200
        await fake_telegram.wait_for(
            lambda f: any(str(c.params.get("chat_id")) == "42" for c in f.sent("sendMessage"))
        )

        # a kill -9 of the main process: the intake process follows it; nothing it took is lost
        (child,) = children(main.proc.pid)
        main.kill()

        async def intake_gone() -> bool:
            try:
                return Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True

        await wait_until(intake_gone, timeout=20, interval=0.1)
        async with db.read() as s:
            assert (await s.execute(inbound)).scalar_one() == 2
    finally:
        await db.dispose()


async def _all_sent(db: Database) -> bool:
    async with db.read() as s:
        rows = (await s.execute(select(OutboxRow.state, OutboxRow.provider_message_id))).all()
    return bool(rows) and all(state == "sent" and pid for state, pid in rows)
