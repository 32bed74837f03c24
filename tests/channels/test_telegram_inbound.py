"""What a client's Telegram update becomes, posted through the signed webhook of the real app."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from storage.repos import clients
from storage.repos import messages as message_repo
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, business_update, message_update

CHAT = 4242001


async def stored(h: BotHarness, update_id: int) -> Any:
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "telegram", "in", str(update_id))
        return await message_repo.get_message(s, row.id) if row else None


def with_(field: str, value: Any, chat: int = CHAT) -> dict[str, Any]:
    update = message_update(chat)
    update["message"][field] = value
    return update


RENDERED = [
    ("location", {"latitude": 22.5431, "longitude": 114.0579}, "📍 22.54, 114.06", "location"),
    (
        "venue",
        {
            "location": {"latitude": 22.5431, "longitude": 114.0579},
            "title": "Futian Port",
            "address": "Futian, Shenzhen",
        },
        "📍 22.54, 114.06 — Futian Port, Futian, Shenzhen",
        "location",
    ),
    (
        "contact",
        {"phone_number": "+8613800000000", "first_name": "Wei", "last_name": "Zhou"},
        "👤 Wei Zhou +8613800000000",
        "contact",
    ),
    (
        "sticker",
        {"file_id": "S", "file_unique_id": "s", "width": 512, "height": 512, "is_animated": False,
         "is_video": False, "type": "regular", "emoji": "👍"},
        "[sticker 👍]",
        "sticker",
    ),
    ("dice", {"emoji": "🎲", "value": 4}, "🎲 4", "dice"),
    (
        "poll",
        {"id": "p", "question": "Which colour?", "options": [{"text": "navy", "voter_count": 0},
         {"text": "black", "voter_count": 0}], "total_voter_count": 0, "is_closed": False,
         "is_anonymous": True, "type": "regular", "allows_multiple_answers": False},
        "📊 Which colour?: navy / black",
        "poll",
    ),
    (
        "story",
        {"chat": {"id": 77, "type": "channel", "username": "acmebags"}, "id": 9},
        "[story acmebags #9]",
        "story",
    ),
    (
        "users_shared",
        {"request_id": 1, "users": [{"user_id": 555, "first_name": "Li"}]},
        "👥 555 (Li)",
        "shared_users",
    ),
    ("chat_shared", {"request_id": 2, "chat_id": -1001, "title": "Buyers"}, "💬 -1001 (Buyers)",
     "shared_chat"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "text", "key"), RENDERED, ids=[r[0] for r in RENDERED])
async def test_what_is_not_text_is_rendered_and_kept_as_fields(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, field: str, value: Any, text: str, key: str
) -> None:
    update = with_(field, value)
    assert (await tg_bot.post_telegram(update)).status == 200
    await tg_bot.settled()
    row = await stored(tg_bot, update["update_id"])
    assert row.text == text
    assert row.payload["extra"][key]  # the exact values, for whoever needs more than the line
    assert fake_telegram.texts_to(CHAT)  # a client's message: answered


MEDIA = [
    (
        "audio",
        {"file_id": "AU", "file_unique_id": "au", "duration": 3, "mime_type": "audio/mpeg"},
        "voice",
        "audio/mpeg",
    ),
    (
        "video_note",
        {"file_id": "VN", "file_unique_id": "vn", "length": 240, "duration": 4},
        "video",
        "video/mp4",
    ),
    (
        "animation",
        {"file_id": "AN", "file_unique_id": "an", "width": 1, "height": 1, "duration": 1},
        "video",
        "video/mp4",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "kind", "mime"), MEDIA, ids=[m[0] for m in MEDIA])
async def test_media_kinds_are_fetched_like_photos(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, field: str, value: Any, kind: str, mime: str
) -> None:
    fake_telegram.add_file(value["file_id"], b"media bytes")
    update = with_(field, value)
    if field == "animation":  # Telegram sends an animation as a document too: still one file
        update["message"]["document"] = {"file_id": "AN", "file_unique_id": "an", "mime_type": "video/mp4"}
    await tg_bot.post_telegram(update)
    await tg_bot.settled()
    row = await stored(tg_bot, update["update_id"])
    assert [(a.kind, a.mime, a.sha256 is not None) for a in row.attachments] == [(kind, mime, True)]


SERVICE = [
    ("new_chat_members", [{"id": 9, "is_bot": False, "first_name": "New"}]),
    ("left_chat_member", {"id": 9, "is_bot": False, "first_name": "Gone"}),
    ("new_chat_title", "Bag buyers"),
    ("pinned_message", {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"}}),
    ("giveaway_created", {}),
    ("successful_payment", {"currency": "USD", "total_amount": 100, "invoice_payload": "x",
                            "telegram_payment_charge_id": "t", "provider_payment_charge_id": "p"}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), SERVICE, ids=[s[0] for s in SERVICE])
async def test_service_messages_are_never_stored_or_answered(
    tg_bot: BotHarness, fake_telegram: FakeTelegram, field: str, value: Any
) -> None:
    update = with_(field, value)
    assert (await tg_bot.post_telegram(update)).status == 200
    await tg_bot.settled()
    assert await stored(tg_bot, update["update_id"]) is None
    assert fake_telegram.texts_to(CHAT) == []


async def test_a_business_message_is_answered_through_its_connection(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    update = business_update(CHAT, "bc-1", text="hello")
    await tg_bot.post_telegram(update)
    await tg_bot.settled()
    assert (await stored(tg_bot, update["update_id"])).text == "hello"
    sent = [c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(CHAT)]
    assert sent and all(c.params.get("business_connection_id") == "bc-1" for c in sent)


async def test_a_channel_post_is_kept_and_never_answered(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    post = {
        "message_id": 3,
        "date": 1700000000,
        "chat": {"id": -1005, "type": "channel", "title": "Acme news"},
        "text": "New catalogue is out",
    }
    update = {"update_id": 9100001, "channel_post": post}
    await tg_bot.post_telegram(update)
    await tg_bot.settled()
    row = await stored(tg_bot, update["update_id"])
    assert row.text == "New catalogue is out" and row.channel_user_id == "-1005"
    assert fake_telegram.texts_to(-1005) == []


async def test_plain_text_stored_at_its_webhook_is_read_in_full_when_handled(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    """The webhook stores a plain text after a first read (channels/telegram_triage.py); the row
    handled holds python-telegram-bot's reading: the sender, the time they wrote, the route back."""
    update = message_update(CHAT, text="hello", first_name="Wei")
    await tg_bot.post_telegram(update)
    await tg_bot.settled()
    row = await stored(tg_bot, update["update_id"])
    assert row.handled_at is not None and row.text == "hello"
    assert "telegram_update" not in row.payload["extra"]
    assert row.payload["sender_name"] == "Wei" and row.payload["language_hint"] == "en"
    assert row.payload["extra"]["message_id"] == update["message"]["message_id"]
    assert row.payload["extra"]["reply_extra"] == {"business_connection_id": None}
    written = datetime.fromtimestamp(update["message"]["date"], UTC)
    assert datetime.fromisoformat(row.payload["received_at"]) == written
    async with tg_bot.db.read() as s:
        contact = await clients.get_contact(s, "telegram", str(CHAT))
    assert contact is not None and contact.name == "Wei"
    assert contact.last_inbound_at == written
    assert fake_telegram.texts_to(CHAT)
