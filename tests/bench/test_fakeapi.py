"""The fake Bot API answers python-telegram-bot like Telegram does and logs when each send arrived."""

from __future__ import annotations

import time

import aiohttp
from telegram import Bot

from bench import replies, servers


async def test_a_send_through_python_telegram_bot_is_logged_with_its_arrival() -> None:
    port = servers.free_port()
    async with servers.process(servers.fake_api(port), port):
        bot = Bot("123:bench", base_url=f"http://127.0.0.1:{port}/bot")
        before = time.monotonic()
        message = await bot.send_message(4242, "hello there")
        await bot.shutdown()
        log = replies.ReplyLog(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http:
            await log.poll(http)
            await log.poll(http)  # a second read brings nothing twice
    assert message.chat.id == 4242 and message.text == "hello there"
    assert [(chat, text) for chat, _at, text in log.arrivals] == [("4242", "hello there")]
    assert before <= log.first["4242"] <= time.monotonic()
