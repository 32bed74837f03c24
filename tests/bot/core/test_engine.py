"""What handling a message leaves in the database: the contact, its conversation, the reply.

The first message of a new contact inserts contact and conversation with their final values
(the engine saves the UPDATEs that used to follow); these tests hold it to the values a later
reader relies on: when the client last wrote (it dates WhatsApp's 24-hour window), the
conversation's language and one conversation per contact.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import ClusterSettings
from storage.models import Contact, Conversation, Message
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, callback_update, message_update

CHAT = 7301


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def _contact_and_conversations(h: BotHarness) -> tuple[Contact, list[Conversation]]:
    async with h.db.read() as s:
        contact = (await s.execute(select(Contact).where(Contact.channel_user_id == str(CHAT)))).scalar_one()
        convs = list(
            (await s.execute(select(Conversation).where(Conversation.contact_id == contact.id))).scalars()
        )
    return contact, convs


def _written_at(update: dict[str, Any], at: int) -> dict[str, Any]:
    update["message"]["date"] = at
    return update


async def test_a_first_message_stores_when_the_client_wrote_and_in_which_language(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    first = int(datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp())
    await tg_bot.post_telegram(_written_at(message_update(CHAT, text="你好，我想问一下订单"), first))
    await fake_telegram.wait_sent(1, "sendMessage")
    await tg_bot.settled()
    contact, convs = await _contact_and_conversations(tg_bot)
    assert _utc(contact.last_inbound_at) == datetime.fromtimestamp(first, UTC)
    assert [c.language for c in convs] == ["zh"]
    assert convs[0].last_message_at is not None
    assert any("\u4e00" <= ch <= "\u9fff" for ch in fake_telegram.texts_to(CHAT)[0])  # answered in Chinese

    later = first + 3600
    await tg_bot.post_telegram(_written_at(message_update(CHAT, text="hello, any news?"), later))
    await fake_telegram.wait_sent(2, "sendMessage")
    await tg_bot.settled()
    contact, again = await _contact_and_conversations(tg_bot)
    assert _utc(contact.last_inbound_at) == datetime.fromtimestamp(later, UTC)
    assert [c.id for c in again] == [convs[0].id]  # the same conversation, not a second one
    assert again[0].language == "en"
    assert _utc(again[0].last_message_at) >= _utc(convs[0].last_message_at)  # type: ignore[operator]


async def test_a_button_as_the_first_message_gets_english_and_a_conversation(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    """A button's value is ours, not the client's words: with nothing else known, English."""
    await tg_bot.post_telegram(callback_update(CHAT, "menu:order"))
    await tg_bot.settled()
    _contact, convs = await _contact_and_conversations(tg_bot)
    assert [c.language for c in convs] == ["en"]


async def test_messages_arriving_while_the_last_is_handled_are_answered_without_the_sweep(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    """A worker stops after the last message it saw; one stored meanwhile must wake it again.

    The sweep is an hour away, so only the wake-up of each stored message can answer them all.
    """
    hour = ClusterSettings(sweep_seconds=3600)
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram), cluster=hour)
    bot: BotHarness = await harness_factory(settings)
    texts = [f"hello number {i}" for i in range(12)]
    for wave in (texts[:4], texts[4:8], texts[8:]):  # each wave while the one before is being handled
        await asyncio.gather(*(bot.post_telegram(message_update(CHAT, text=t)) for t in wave))
    await fake_telegram.wait_sent(len(texts), "sendMessage", timeout=15)
    await bot.settled()
    async with bot.db.read() as s:
        query = select(Message.text, Message.handled_at).where(Message.direction == "in")
        handled = list((await s.execute(query.order_by(Message.id))).all())
    assert sorted(t for t, _ in handled) == sorted(texts)
    assert all(at is not None for _, at in handled)
    assert len(fake_telegram.texts_to(CHAT)) == len(texts)
