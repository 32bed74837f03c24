"""python-telegram-bot's Bot over our aiohttp request object, against the fake Bot API and bad peers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from channels.telegram_http import AiohttpRequest, Timeouts
from tests.fakes.base import free_port
from tests.fakes.telegram import FakeTelegram


class Client:
    """A Bot on its own AiohttpRequest; the adapter, too, never initialises the Bot (no getMe),
    so it is the request that must be shut."""

    def __init__(self, base_url: str, request: AiohttpRequest | None = None) -> None:
        self.request = request or AiohttpRequest()
        self.bot = Bot("123456:TEST-token", base_url=base_url, request=self.request)

    async def __aenter__(self) -> Bot:
        return self.bot

    async def __aexit__(self, *_exc: object) -> None:
        await self.request.shutdown()


async def test_a_text_and_a_photo_arrive_as_the_library_sent_them(fake_telegram: FakeTelegram) -> None:
    async with Client(fake_telegram.api_base_url) as bot:
        sent = await bot.send_message(4242, "Your order ships Friday. 您的订单周五发货。")
        image = InputFile(b"\x89PNG fake bytes", filename="a.png")
        photo = await bot.send_photo(4242, photo=image, caption="QC")
    assert sent.message_id and photo.message_id != sent.message_id
    [text] = fake_telegram.sent("sendMessage")
    assert text.params["text"] == "Your order ships Friday. 您的订单周五发货。"
    [upload] = fake_telegram.sent("sendPhoto")
    assert upload.params["caption"] == "QC"
    assert list(upload.files.values()) == [b"\x89PNG fake bytes"]


async def test_the_providers_refusals_keep_their_meaning(fake_telegram: FakeTelegram) -> None:
    async with Client(fake_telegram.api_base_url) as bot:
        fake_telegram.fail_next("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter, match="7"):
            await bot.send_message(1, "hi")
        fake_telegram.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
        with pytest.raises(Forbidden):
            await bot.send_message(1, "hi")


@pytest.fixture
async def silent_peer() -> AsyncIterator[str]:
    """Accepts connections and never answers: the read timeout must end the wait."""
    conns: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot"
    for w in conns:
        w.close()
    server.close()
    await server.wait_closed()


async def test_a_peer_that_never_answers_times_out(silent_peer: str) -> None:
    async with Client(silent_peer, AiohttpRequest(timeouts=Timeouts(read=0.3))) as bot:
        with pytest.raises(TimedOut):
            await asyncio.wait_for(bot.send_message(1, "hi"), 5)


async def test_nobody_listening_is_a_network_error() -> None:
    async with Client(f"http://127.0.0.1:{free_port()}/bot") as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(1, "hi")
