"""Update shapes python-telegram-bot refuses, posted through the signed webhook: read, not refused."""

from __future__ import annotations

from typing import Any

from storage.repos import messages as message_repo
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

CHAT = 4244001


async def stored(h: BotHarness, update_id: int) -> Any:
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "telegram", "in", str(update_id))
        return await message_repo.get_message(s, row.id) if row else None


async def test_older_shapes_are_repaired_and_read(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    old = message_update(CHAT)  # Bot API before 4.5: files without file_unique_id
    old["message"]["photo"] = [{"file_id": "OLD", "file_size": 10, "width": 90, "height": 60}]
    old["message"]["caption"] = "damaged carton"
    fake_telegram.add_file("OLD", b"jpeg")
    dice = message_update(CHAT + 1)  # before dice had an emoji
    dice["message"]["dice"] = {"value": 6}
    sticker = message_update(CHAT + 2)  # before stickers had a type
    sticker["message"]["sticker"] = {"file_id": "S", "width": 512, "height": 512, "emoji": "🛠"}
    for update in (old, dice, sticker):
        assert (await tg_bot.post_telegram(update)).status == 200
    await tg_bot.settled()
    row = await stored(tg_bot, old["update_id"])
    assert row.text == "damaged carton" and [a.sha256 is not None for a in row.attachments] == [True]
    assert (await stored(tg_bot, dice["update_id"])).text == "🎲 6"
    assert (await stored(tg_bot, sticker["update_id"])).text == "[sticker 🛠]"


async def test_what_cannot_be_repaired_keeps_the_words(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    broken = message_update(CHAT, text="where is PO-2026-0117")
    broken["message"]["photo"] = "not a list of sizes"
    broken["message"]["from"]["is_bot"] = None  # dropped, then restored as a person
    assert (await tg_bot.post_telegram(broken)).status == 200
    await tg_bot.settled()
    row = await stored(tg_bot, broken["update_id"])
    assert row.text == "where is PO-2026-0117" and row.channel_user_id == str(CHAT)
    assert fake_telegram.texts_to(CHAT)  # answered like any message


async def test_partial_updates_are_acknowledged_and_dropped(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    partial = {"update_id": 9100002, "message_reaction": {"chat_id": 5}}
    bare = {"update_id": 9100003}
    shapeless = {"update_id": 9100004, "message": {"text": "no chat, no sender"}}
    for update in (partial, bare, shapeless):
        assert (await tg_bot.post_telegram(update)).status == 200
    await tg_bot.settled()
    for update_id in (9100002, 9100003, 9100004):
        assert await stored(tg_bot, update_id) is None
    assert fake_telegram.sent() == []


async def test_what_is_not_an_update_is_still_refused(tg_bot: BotHarness) -> None:
    for body in (b"not json", b"[1, 2]", b'{"update_id": "7"}'):
        assert (await tg_bot.post_telegram(body)).status == 400
