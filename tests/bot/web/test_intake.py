"""The intake process's app: webhooks checked as in the main process, stored over the link, or 503."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.core.link import LinkServer
from bot.core.link_client import LinkClient
from bot.core.writer import Stored
from bot.messages import InboundMessage
from bot.web.body import BodyLimits
from bot.web.intake import IntakeApp
from channels.base import MediaStore
from channels.telegram import TelegramAdapter
from config.settings import TelegramSettings
from tests.conftest import wait_until
from tests.fakes.telegram import message_update

SECRET = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}


async def test_stored_updates_answer_200_and_a_failed_or_lost_store_answers_503(tmp_path: Path) -> None:
    kept: list[InboundMessage] = []

    async def submit(messages: list[InboundMessage]) -> list[Stored]:
        if messages[0].text == "fail":
            raise RuntimeError("database is locked")
        kept.extend(messages)
        return [Stored(len(kept), True, str(m.channel), m.channel_user_id) for m in messages]

    server = LinkServer(str(tmp_path / "link.sock"), submit)
    await server.start()
    settings = TelegramSettings(enabled=True, token="123:abc", webhook_secret="s3cret")
    adapter = TelegramAdapter(settings, MediaStore(tmp_path / "media", 1_000_000))
    lost: list[bool] = []
    link = LinkClient(server.path)
    intake = IntakeApp([adapter], link, BodyLimits(4096, 5), on_lost=lambda: lost.append(True))
    async with TestClient(TestServer(intake.build())) as client:
        ok = await client.post("/webhooks/telegram", data=update(7, "hi"), headers=SECRET)
        assert ok.status == 200 and [m.text for m in kept] == ["hi"]
        failed = await client.post("/webhooks/telegram", data=update(7, "fail"), headers=SECRET)
        assert failed.status == 503 and (await failed.json())["error"] == "not stored: retry"
        forged_secret = {"X-Telegram-Bot-Api-Secret-Token": "x"}
        forged = await client.post("/webhooks/telegram", data=update(7, "hi"), headers=forged_secret)
        assert forged.status == 403
        assert (await client.post("/webhooks/telegram", data=b"y" * 5000, headers=SECRET)).status == 413
        assert (await client.get("/healthz")).status == 200
        await server.stop()  # the main process is gone
        await wait_until(lambda: _true(lost))
        assert (await client.get("/healthz")).status == 503
        late = await client.post("/webhooks/telegram", data=update(8, "hi"), headers=SECRET)
        assert late.status == 503 and [m.text for m in kept] == ["hi"]


def update(chat: int, text: str) -> bytes:
    return json.dumps(message_update(chat, text=text)).encode()


async def _true(values: list[bool]) -> bool:
    return bool(values)
