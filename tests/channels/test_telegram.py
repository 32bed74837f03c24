"""Telegram end to end: real webhook route, real python-telegram-bot `Bot`, fake Bot API on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select

from storage.models import AttachmentRow, Message, OutboxRow
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, business_update, callback_update, message_update

ACME_CHAT = 5550001  # demo client "acme", English
HAILANG_CHAT = 5550002  # demo client "hailang", Chinese


async def count(h: BotHarness, model: type, *where: object) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_text_gets_menu_reply_in_english(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    resp = await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    assert resp.status == 200
    [call] = await fake_telegram.wait_sent(1, "sendMessage")
    assert str(call.params["chat_id"]) == str(ACME_CHAT)
    assert "How can we help" in call.params["text"]
    assert "Order status" in str(call.params["reply_markup"])


async def test_chinese_text_gets_chinese_reply(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="你好，我想问一下"))
    [call] = await fake_telegram.wait_sent(1, "sendMessage")
    assert "请问有什么可以帮您" in call.params["text"]


async def test_chinese_client_typing_digits_keeps_chinese(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="你好"))
    await fake_telegram.wait_sent(1, "sendMessage")
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="1"))
    calls = await fake_telegram.wait_sent(2, "sendMessage")
    assert "订单号" in calls[1].params["text"]


async def test_menu_button_press_is_answered_and_acknowledged(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    resp = await tg_bot.post_telegram(callback_update(ACME_CHAT, "menu:claim"))
    assert resp.status == 200
    assert (await resp.json())["method"] == "answerCallbackQuery"
    [call] = await fake_telegram.wait_sent(1, "sendMessage")
    assert "photos or a video" in call.params["text"]


async def test_button_press_keeps_the_conversation_language(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(callback_update(HAILANG_CHAT, "menu:order_status"))
    [call] = await fake_telegram.wait_sent(1, "sendMessage")
    assert "订单号" in call.params["text"]


async def test_photo_is_stored_with_sha256_and_linked(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    data = b"\xff\xd8\xff\xe0" + b"torn strap photo" * 100
    fake_telegram.add_file("PHOTO1", data)
    await tg_bot.post_telegram(
        message_update(ACME_CHAT, caption="strap torn", photo_file_id="PHOTO1", photo_size=len(data))
    )
    await fake_telegram.wait_sent(1, "sendMessage")
    await tg_bot.idle()
    async with tg_bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
        msg = await s.get(Message, att.message_id)
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(att.stored_path).read_bytes() == data
    assert att.kind == "photo" and att.error is None
    assert msg is not None and msg.text == "strap torn" and msg.direction == "in"
    # the largest size was fetched, not the thumbnail
    assert [c.params["file_id"] for c in fake_telegram.calls if c.method == "getFile"] == ["PHOTO1"]


async def test_too_large_photo_gets_clear_message_and_text_still_handled(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_file("HUGE", b"x" * 10, reported_size=50_000_000)
    await tg_bot.post_telegram(
        message_update(
            ACME_CHAT, caption="talk to a person please", photo_file_id="HUGE", photo_size=50_000_000
        )
    )
    await fake_telegram.wait_for(lambda f: len(f.texts_to(ACME_CHAT)) >= 2)
    texts = fake_telegram.texts_to(ACME_CHAT)
    assert any("too large" in t and "5 MB" in t for t in texts)
    assert any("colleague has been notified" in t for t in texts), texts
    assert not [c for c in fake_telegram.calls if c.method == "download"]
    async with tg_bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.error == "too_large" and att.stored_path is None


async def test_wrong_or_missing_secret_is_403_and_nothing_stored(tg_bot: BotHarness) -> None:
    for secret in ("wrong-secret", None, ""):
        resp = await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"), secret=secret)
        assert resp.status == 403
        assert "secret" in (await resp.json())["error"]
    assert await count(tg_bot, Message) == 0


async def test_malformed_json_is_400(tg_bot: BotHarness) -> None:
    for body in (b"{not json", b"[]", b'{"update_id": "x"}', "\u00ff".encode("latin-1")):
        resp = await tg_bot.post_telegram(body)
        assert resp.status == 400, body
        assert "error" in await resp.json()
    assert await count(tg_bot, Message) == 0


async def test_oversize_body_is_413(
    harness_factory, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    settings.server.max_body_bytes = 2000
    h = await harness_factory(settings)
    resp = await h.post_telegram(message_update(ACME_CHAT, text="x" * 5000))
    assert resp.status == 413
    assert await count(h, Message) == 0


async def test_same_update_twice_gives_one_message_and_one_reply(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    update = message_update(ACME_CHAT, text="hello")
    for _ in range(3):
        assert (await tg_bot.post_telegram(update)).status == 200
    await fake_telegram.wait_sent(1, "sendMessage")
    assert await tg_bot.settled() == ["sent"]
    assert await count(tg_bot, Message, Message.direction == "in") == 1
    assert await count(tg_bot, OutboxRow) == 1
    assert len(fake_telegram.sent("sendMessage")) == 1


async def test_two_500s_then_success_delivers_exactly_once(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", 500, times=2)
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await fake_telegram.wait_sent(1, "sendMessage")
    attempts = [c for c in fake_telegram.calls if c.method == "sendMessage"]
    assert [c.ok for c in attempts] == [False, False, True]
    assert await tg_bot.settled() == ["sent"]
    async with tg_bot.db.read() as s:
        row = (await s.execute(select(OutboxRow).where(OutboxRow.kind == "reply"))).scalar_one()
        out = await s.get(Message, row.message_id)
    assert row.state == "sent" and row.attempts == 3
    assert out is not None and out.delivery == "sent"


async def test_retry_after_is_honoured(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await fake_telegram.wait_sent(1, "sendMessage")
    first, second = [c for c in fake_telegram.calls if c.method == "sendMessage"]
    assert not first.ok and second.ok
    # our own backoff in these tests is at most 0.2 s; only Telegram's retry_after explains a 1 s gap
    assert second.at - first.at >= 0.95


async def test_permanent_refusal_is_marked_failed_with_reason(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await fake_telegram.wait_for(lambda f: any(c.method == "sendMessage" for c in f.calls))
    await tg_bot.settled()
    assert await tg_bot.outbox_states("reply") == ["failed"]
    async with tg_bot.db.read() as s:
        row = (await s.execute(select(OutboxRow).where(OutboxRow.kind == "reply"))).scalar_one()
    assert "chat not found" in (row.last_error or "").lower()
    to_client = [
        c for c in fake_telegram.calls if c.method == "sendMessage" and c.params["chat_id"] == str(ACME_CHAT)
    ]
    assert len(to_client) == 1


async def test_staff_answer_a_business_client_through_the_connection_of_their_newest_message(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    """A console reply carries nothing of the client's message: the adapter still finds the
    business connection, or the client would never see their answer."""
    from tests.bot.web.console.test_views import add_staff, csrf_of, login, nonce_of

    await add_staff(tg_bot)
    await tg_bot.post_telegram(business_update(ACME_CHAT, "bc-acme", text="hello, my order?"))
    await fake_telegram.wait_for(lambda f: bool(f.texts_to(ACME_CHAT)))
    await tg_bot.settled()
    async with tg_bot.db.read() as s:
        conv_id = (await s.execute(select(Message.conversation_id).where(Message.direction == "in"))).scalar()
    await login(tg_bot)
    html = await (await tg_bot.client.get(f"/console/conversations/{conv_id}")).text()
    said = "Li here: it ships Friday."
    form = {"csrf": csrf_of(html), "nonce": nonce_of(html), "text": said}
    assert (await tg_bot.client.post(f"/console/conversations/{conv_id}/reply", data=form)).status == 200
    await fake_telegram.wait_for(lambda f: said in f.texts_to(ACME_CHAT))
    [answer] = [c for c in fake_telegram.sent("sendMessage") if c.params["text"] == said]
    assert answer.params.get("business_connection_id") == "bc-acme"


async def test_a_client_who_no_longer_writes_through_a_business_account_is_answered_directly(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(business_update(ACME_CHAT, "bc-acme", text="hello"))
    await tg_bot.settled()
    before = len(fake_telegram.sent("sendMessage"))
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="where is PO-2026-0117?"))
    await fake_telegram.wait_for(lambda f: len(f.sent("sendMessage")) > before)
    await tg_bot.settled()
    later = fake_telegram.sent("sendMessage")[before:]
    assert later and all(not c.params.get("business_connection_id") for c in later)
