"""A client's correction (Telegram edited_message) through the real route: stored as an edit,
answered only when the bot is waiting for that answer."""

from __future__ import annotations

from typing import Any

from storage.repos import messages as message_repo
from tests.bot.web.console.test_views import add_staff, login
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

CHAT = 4243001


def edit_of(update: dict[str, Any], text: str) -> dict[str, Any]:
    msg = {**update["message"], "text": text, "edit_date": update["message"]["date"] + 30}
    return {"update_id": update["update_id"] + 500_000, "edited_message": msg}


async def conversation_of(h: BotHarness, update_id: int) -> int:
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "telegram", "in", str(update_id))
        assert row is not None and row.conversation_id is not None
        return row.conversation_id


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
    conv = await conversation_of(tg_bot, fix["update_id"])
    listed = await (await tg_bot.api("GET", f"/api/conversations/{conv}/messages")).json()
    shown = [m for m in reversed(listed["items"]) if m["direction"] == "in"]
    assert [m["text"] for m in shown] == ["where is PO-2026-011", "where is PO-2026-0117"]
    original, edit = shown
    assert edit["edit_of"] == original["id"] and original["edited_by"] == [edit["id"]]
    await add_staff(tg_bot)
    await login(tg_bot)
    page = await (await tg_bot.client.get(f"/console/conversations/{conv}")).text()
    assert "correction of an earlier message</span> where is PO-2026-0117" in page
    assert "where is PO-2026-011 <span" in page and "edited later" in page
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
