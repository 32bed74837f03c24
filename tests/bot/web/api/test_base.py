"""The JSON API's base: bearer auth, error shape, conversation and message listings, health, metrics."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update


async def test_api_needs_the_bearer_token(tg_bot: BotHarness) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dGVzdA=="}):
        resp = await tg_bot.client.get("/api/conversations", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]


async def test_conversations_and_messages_shapes(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await tg_bot.post_telegram(message_update(5550001, text="hello"))
    await tg_bot.post_telegram(message_update(777, text="hi there", first_name="Stranger"))
    await fake_telegram.wait_sent(2, "sendMessage")
    await tg_bot.settled()
    resp = await tg_bot.api("GET", "/api/conversations")
    assert resp.status == 200
    body = await resp.json()
    assert body["next"] is None
    by_contact = {c["contact"]["id"]: c for c in body["items"]}
    acme = by_contact["5550001"]
    assert acme["client"] == "acme" and acme["channel"] == "telegram"
    assert acme["state"] == "bot" and acme["priority"] == "normal" and acme["last_message_at"]
    assert by_contact["777"]["client"] is None and by_contact["777"]["contact"]["name"] == "Stranger"

    resp = await tg_bot.api("GET", f"/api/conversations/{acme['id']}/messages")
    items = (await resp.json())["items"]
    assert [m["direction"] for m in items] == ["out", "in"]  # newest first
    assert items[0]["delivery"] == "sent" and "How can we help" in items[0]["text"]
    assert items[1]["text"] == "hello" and items[1]["delivery"] is None and items[1]["attachments"] == []


async def test_pagination_and_errors(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    for chat in (1, 2, 3):
        await tg_bot.post_telegram(message_update(chat, text="hello"))
    await fake_telegram.wait_sent(3, "sendMessage")
    await tg_bot.settled()
    first = await (await tg_bot.api("GET", "/api/conversations?limit=2")).json()
    assert len(first["items"]) == 2 and first["next"]
    second = await (await tg_bot.api("GET", f"/api/conversations?limit=2&cursor={first['next']}")).json()
    assert len(second["items"]) == 1 and second["next"] is None
    assert {c["id"] for c in first["items"]}.isdisjoint({c["id"] for c in second["items"]})

    resp = await tg_bot.api("GET", "/api/conversations?limit=abc")
    assert resp.status == 400 and (await resp.json()) == {
        "error": "limit must be an integer",
        "field": "limit",
    }
    resp = await tg_bot.api("GET", "/api/conversations?limit=0")
    assert resp.status == 422 and (await resp.json())["field"] == "limit"
    resp = await tg_bot.api("GET", "/api/conversations?cursor=garbage")
    assert resp.status == 400 and (await resp.json())["field"] == "cursor"
    resp = await tg_bot.api("GET", "/api/conversations/999999/messages")
    assert resp.status == 404
    resp = await tg_bot.api("GET", "/api/nothing-here")
    assert resp.status == 404 and (await resp.json())["error"] == "not found"


async def test_healthz_checks_the_database(tg_bot: BotHarness) -> None:
    resp = await tg_bot.client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["status"] == "ok"
    db = tg_bot.runtime.db
    healthy = db.read_engine
    db.read_engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    try:
        resp = await tg_bot.client.get("/healthz")
        assert resp.status == 503 and "database unreachable" in (await resp.json())["error"]
    finally:
        await db.read_engine.dispose()
        db.read_engine = healthy


async def test_metrics_count_webhooks_and_messages(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await tg_bot.post_telegram(message_update(5550001, text="hello"))
    await tg_bot.post_telegram(message_update(5550001, text="hello"), secret="bad")
    await fake_telegram.wait_sent(1, "sendMessage")
    await tg_bot.settled()
    text = await (await tg_bot.client.get("/metrics")).text()
    assert 'aftersales_webhooks_total{channel="telegram",status="200"} 1.0' in text
    assert 'aftersales_webhooks_total{channel="telegram",status="403"} 1.0' in text
    assert 'aftersales_messages_in_total{channel="telegram"} 1.0' in text
    assert 'aftersales_messages_out_total{channel="telegram",kind="reply"} 1.0' in text
    assert "aftersales_handling_seconds_bucket" in text
    assert "aftersales_outbox_depth" in text


async def test_request_id_is_echoed(tg_bot: BotHarness) -> None:
    resp = await tg_bot.client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert resp.headers["X-Request-Id"] == "abc123"
    resp = await tg_bot.client.get("/healthz")
    assert len(resp.headers["X-Request-Id"]) == 16
