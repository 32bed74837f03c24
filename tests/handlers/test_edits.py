"""A client's correction (Telegram edited_message) through the real route: stored as an edit,
answered only when the bot is waiting for that answer."""

from __future__ import annotations

from typing import Any

from storage.repos import messages as message_repo
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

CHAT = 4243001


def edit_of(update: dict[str, Any], text: str) -> dict[str, Any]:
    msg = {**update["message"], "text": text, "edit_date": update["message"]["date"] + 30}
    return {"update_id": update["update_id"] + 500_000, "edited_message": msg}


async def rows(h: BotHarness) -> list[dict[str, Any]]:
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "telegram", "in", str(LAST[0]))
        assert row is not None and row.conversation_id is not None
        found, _ = await message_repo.list_messages(s, row.conversation_id)
        return [message_repo.message_json(m) for m in reversed(found) if m.direction == "in"]


LAST: list[int] = [0]


async def test_an_edit_is_stored_as_an_edit_and_not_answered_again(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    first = message_update(CHAT, text="where is PO-2026-011")
    await tg_bot.post_telegram(first)
    await tg_bot.settled()
    answered = len(fake_telegram.texts_to(CHAT))
    fix = edit_of(first, "where is PO-2026-0117")
    for _ in range(2):  # a retried delivery is the same edit
        assert (await tg_bot.post_telegram(fix)).status == 200
    await tg_bot.settled()
    LAST[0] = fix["update_id"]
    shown = await rows(tg_bot)
    assert [m["text"] for m in shown] == ["where is PO-2026-011", "where is PO-2026-0117"]
    original, edit = shown
    assert edit["edit_of"] == original["id"] and original["edited_by"] == [edit["id"]]
    assert len(fake_telegram.texts_to(CHAT)) == answered  # nothing more said


async def test_an_edit_the_bot_is_waiting_for_is_used_as_the_answer(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await tg_bot.post_telegram(message_update(CHAT, text="hello"))  # the menu: 1–4 awaited
    await tg_bot.settled()
    typo = message_update(CHAT, text="9")
    await tg_bot.post_telegram(typo)
    await tg_bot.settled()
    before = len(fake_telegram.texts_to(CHAT))
    await tg_bot.post_telegram(edit_of(typo, "1"))
    await tg_bot.settled()
    after = fake_telegram.texts_to(CHAT)[before:]
    assert len(after) == 1 and "did not understand" not in after[0]
    assert "send your order number" in after[0]  # choice 1: the order status prompt
