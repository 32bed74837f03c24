"""Slow and oversized bodies, driven over a raw socket against the real app on 127.0.0.1.

A client sends its headers (with a Content-Length) and then trickles or withholds the
body. The bot must cut it off within `server.body_timeout_seconds` and store nothing;
a request whose headers already prove it forged is refused at once, body unread.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.tools.demo import seed
from config.settings import WeChatSettings
from storage.models import Client, Message
from tests.conftest import ADMIN_TOKEN, TG_SECRET, BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, message_update
from tests.fakes.twilio import FakeTwilio, inbound_form, sign, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, query_string, signed_query, text_xml

SHORT = 0.5  # the body timeout of the slow-client tests
LONG = 60.0  # so long that an answer within READ_DEADLINE proves the body was never waited for
READ_DEADLINE = 5.0
ACME = "whatsapp:+491701234567"


async def make_bot(
    harness_factory: Any,
    tmp_path: Path,
    db_url: str,
    timeout: float,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> BotHarness:
    settings = make_settings(
        tmp_path,
        db_url,
        telegram=telegram_settings(fake_telegram),
        whatsapp=whatsapp_settings(fake_twilio),
        wechat=WeChatSettings(
            enabled=True,
            app_id=APP_ID,
            app_secret=APP_SECRET,
            token=TOKEN,
            api_base_url=fake_wechat.api_base_url,
        ),
    )
    settings = replace(settings, server=replace(settings.server, body_timeout_seconds=timeout))
    h = await harness_factory(settings)
    await seed(h.db)
    return h


@pytest.fixture
def bot_with(
    harness_factory: Any,
    tmp_path: Path,
    db_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_wechat: FakeWeChat,
) -> Any:
    async def build(timeout: float) -> BotHarness:
        return await make_bot(
            harness_factory, tmp_path, db_url, timeout, fake_telegram, fake_twilio, fake_wechat
        )

    return build


class Answer:
    def __init__(self, status: int | None, elapsed: float, raw: bytes) -> None:
        self.status = status  # None: the connection was closed without an answer
        self.elapsed = elapsed
        self.raw = raw


async def raw_request(
    h: BotHarness,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    content_length: int | None = None,
    send: int | None = None,
    trickle: float | None = None,
    chunk: int = 1,
) -> Answer:
    """Send the head, then `send` bytes of the body (all by default), `chunk` bytes per `trickle` s if set.

    Returns what came back within READ_DEADLINE: the status, or None if the server closed first.
    """
    assert h.server.host and h.server.port
    reader, writer = await asyncio.open_connection(h.server.host, h.server.port)
    loop = asyncio.get_running_loop()
    length = len(body) if content_length is None else content_length
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    started = loop.time()
    writer.write(head.encode())
    part = body if send is None else body[:send]

    async def feed() -> None:
        if trickle is None:
            writer.write(part)
            await writer.drain()
            return
        for i in range(0, len(part), chunk):  # a slow client: its pace is the point, not a wait
            writer.write(part[i : i + chunk])
            await writer.drain()
            await asyncio.sleep(trickle)

    feeder = asyncio.create_task(feed())
    raw = b""
    try:
        async with asyncio.timeout(READ_DEADLINE):
            while b"\r\n\r\n" not in raw:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                raw += chunk
    except TimeoutError:
        raise AssertionError(f"no answer and no close within {READ_DEADLINE}s") from None
    finally:
        feeder.cancel()
        writer.close()
    elapsed = loop.time() - started
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None
    return Answer(status, elapsed, raw)


async def count(h: BotHarness, model: type, *where: Any) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def tg_headers(secret: str = TG_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}


def tg_body(text: str = "hello") -> bytes:
    return json.dumps(message_update(5551, text=text)).encode()


# ---- slow bodies are cut off, nothing stored ----------------------------------------------------------


@pytest.mark.parametrize("pace", ["pause", "trickle"])
async def test_slow_telegram_body_is_cut_off_and_nothing_stored(bot_with: Any, pace: str) -> None:
    h = await bot_with(SHORT)
    body = tg_body()
    if pace == "pause":  # all but the last byte, then silence
        answer = await raw_request(h, "POST", "/webhooks/telegram", tg_headers(), body, send=len(body) - 1)
    else:  # every byte comes, but one per 0.1 s: the whole body would take seconds
        answer = await raw_request(h, "POST", "/webhooks/telegram", tg_headers(), body, trickle=0.1)
    assert answer.status in (408, None)
    assert answer.elapsed < SHORT + 2.0
    assert await count(h, Message) == 0


async def test_slow_api_body_is_cut_off_and_nothing_written(bot_with: Any) -> None:
    h = await bot_with(SHORT)
    before = await count(h, Client)
    body = json.dumps({"name": "Slow Loris GmbH"}).encode()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    answer = await raw_request(h, "PUT", "/api/clients/slow-loris", headers, body, send=5)
    assert answer.status in (408, None) and answer.elapsed < SHORT + 2.0
    assert await count(h, Client) == before


async def test_a_slow_body_that_arrives_in_time_is_stored(bot_with: Any, fake_telegram: FakeTelegram) -> None:
    """Positive control: a slow but punctual client (whole body well inside the timeout) is served."""
    h = await bot_with(2.0)
    body = tg_body("slow but on time")
    step = len(body) // 4 + 1
    answer = await raw_request(h, "POST", "/webhooks/telegram", tg_headers(), body, trickle=0.05, chunk=step)
    assert answer.status == 200
    assert await count(h, Message, Message.direction == "in") == 1  # the reply may be stored by now too


# ---- header checks come before the body ---------------------------------------------------------------


@pytest.mark.parametrize("declared", [900_000, 50_000_000])
async def test_wrong_telegram_secret_is_refused_before_the_body(bot_with: Any, declared: int) -> None:
    h = await bot_with(LONG)
    answer = await raw_request(
        h, "POST", "/webhooks/telegram", tg_headers("wrong-secret"), b"", content_length=declared
    )
    assert answer.status == 403  # within READ_DEADLINE, though the body timeout is a minute: body unread
    assert await count(h, Message) == 0


async def test_unsigned_twilio_request_is_refused_before_the_body(bot_with: Any) -> None:
    h = await bot_with(LONG)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for path in ("/webhooks/whatsapp", "/webhooks/whatsapp/status"):
        answer = await raw_request(h, "POST", path, form, b"", content_length=500_000)
        assert answer.status == 403, path
    assert await count(h, Message) == 0


async def test_bad_wechat_query_signature_is_refused_before_the_body(bot_with: Any) -> None:
    h = await bot_with(LONG)
    query = {"signature": "0" * 40, "timestamp": "1700000000", "nonce": "abc"}
    answer = await raw_request(
        h,
        "POST",
        f"/webhooks/wechat?{query_string(query)}",
        {"Content-Type": "text/xml"},
        b"",
        content_length=500_000,
    )
    assert answer.status == 403
    assert await count(h, Message) == 0


async def test_unauthenticated_api_request_is_refused_before_the_body(bot_with: Any) -> None:
    h = await bot_with(LONG)
    answer = await raw_request(
        h, "PUT", "/api/clients/x", {"Content-Type": "application/json"}, b"", content_length=500_000
    )
    assert answer.status == 401


async def test_declared_size_over_the_cap_is_413_before_reading(bot_with: Any) -> None:
    h = await bot_with(LONG)
    too_big = h.settings.server.max_body_bytes + 1
    answer = await raw_request(h, "POST", "/webhooks/telegram", tg_headers(), b"", content_length=too_big)
    assert answer.status == 413
    assert await count(h, Message) == 0


# ---- positive controls: the same bot serves honest requests -------------------------------------------


async def test_honest_webhooks_are_stored_and_answered(bot_with: Any) -> None:
    h = await bot_with(SHORT)
    answer = await raw_request(h, "POST", "/webhooks/telegram", tg_headers(), tg_body("where is my order"))
    assert answer.status == 200
    pairs = inbound_form(ACME, "hello from whatsapp")
    path = "/webhooks/whatsapp"
    resp = await h.client.post(
        path,
        data=pairs,
        headers={"X-Twilio-Signature": sign(h.settings.server.public_url + path, pairs)},
    )
    assert resp.status == 200
    resp = await h.client.post(
        "/webhooks/wechat", params=signed_query(), data=text_xml("o_slow_test", "你好").encode()
    )
    assert resp.status == 200
    assert await count(h, Message, Message.direction == "in") == 3
    resp = await h.api("PUT", "/api/clients/punctual", json={"name": "Punctual Ltd"})
    assert resp.status == 201
