"""Telegram staff identity comes from a private chat only: in a group, staff chat ids are not obeyed.

A group update is ignored altogether (200, nothing stored, no answer); a button pressed in
a group is told to use the private chat. The same staff member in their private chat is obeyed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from channels.telegram import PRIVATE_ONLY
from storage.models import Message
from storage.repos import staff as staff_repo
from tests.conftest import BotHarness
from tests.fakes.oncall import (
    ACME_CHAT,
    LI,
    Clock,
    alert_message_id,
    alerts_to,
    escalation,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, callback_update, message_update

TEAM_GROUP = -1001234567890  # a supergroup registered as a staff member's chat
MEMBER = 4242  # anybody in that group


@pytest_asyncio.fixture
async def bot(tmp_path: Path, db_url: str, fake_telegram: FakeTelegram) -> Any:
    h = await start_bot(
        escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=600)), Clock()
    )
    async with h.db.write() as s:
        await staff_repo.upsert(s, "team", name="QC Team", telegram_chat_id=str(TEAM_GROUP), roles=["qc"])
    yield h
    await h.close()


def in_group(update: dict[str, Any], chat_id: int, chat_type: str, sender: int) -> dict[str, Any]:
    """The same update as PTB would parse it from a group: the chat is the group, `from` a member."""
    inner = update.get("message") or update["callback_query"]["message"]
    inner["chat"] = {"id": chat_id, "type": chat_type, "title": "QC"}
    person = {"id": sender, "is_bot": False, "first_name": "Someone"}
    if "message" in update:
        update["message"]["from"] = person
    else:
        update["callback_query"]["from"] = person
    return update


async def open_escalation(h: BotHarness, fake: FakeTelegram) -> None:
    await h.post_telegram(message_update(ACME_CHAT, text="URGENT: container stuck at the port"))
    await fake.wait_for(lambda f: alerts_to(f, LI))
    await h.settled()


def client_texts(fake: FakeTelegram) -> list[str]:
    return fake.texts_to(ACME_CHAT)


GROUPS = [
    (LI, "group", MEMBER),  # a staff chat id that is a group: a member speaks
    (LI, "supergroup", LI),  # even with from.id equal to the staff id, a group is no identity
    (TEAM_GROUP, "supergroup", MEMBER),  # a real group id registered as staff
    (TEAM_GROUP, "group", TEAM_GROUP),
]


@pytest.mark.parametrize(("chat", "kind", "sender"), GROUPS)
async def test_commands_in_a_group_are_not_obeyed_and_the_client_gets_nothing(
    bot: BotHarness, fake_telegram: FakeTelegram, chat: int, kind: str, sender: int
) -> None:
    await open_escalation(bot, fake_telegram)
    before = list(client_texts(fake_telegram))
    alert = await alert_message_id(bot, "li")
    for text in ("/ack 1", "/r 1 hi from the group", "/close 1"):
        resp = await bot.post_telegram(in_group(message_update(chat, text=text), chat, kind, sender))
        assert resp.status == 200
    reply = in_group(message_update(chat, text="ack", reply_to_message_id=alert), chat, kind, sender)
    assert (await bot.post_telegram(reply)).status == 200
    await bot.settled()
    esc = await escalation(bot)
    assert (esc.state, esc.acknowledged_by) == ("open", None)
    assert client_texts(fake_telegram) == before  # the client got nothing
    assert fake_telegram.texts_to(chat) == alerts_to(fake_telegram, chat)  # no answer in the group
    async with bot.db.read() as s:
        query = select(Message.channel_user_id).where(Message.direction == "in")
        senders = set((await s.execute(query)).scalars())
    assert senders == {str(ACME_CHAT)}  # nothing from the group was stored

    # positive control: the same staff member in their private chat is obeyed
    await bot.post_telegram(message_update(LI, text="/ack 1"))
    await bot.post_telegram(message_update(LI, text="/r 1 hi from Li"))
    await fake_telegram.wait_for(lambda f: "Li Wei: hi from Li" in f.texts_to(ACME_CHAT))
    esc = await escalation(bot)
    assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li")


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_ack_button_pressed_in_a_group_is_refused_and_in_private_obeyed(
    bot: BotHarness, fake_telegram: FakeTelegram, kind: str
) -> None:
    await open_escalation(bot, fake_telegram)
    alert = await alert_message_id(bot, "li")
    for chat, sender in ((LI, MEMBER), (LI, LI), (TEAM_GROUP, MEMBER)):
        press = in_group(callback_update(LI, "esc:ack:1", message_id=alert), chat, kind, sender)
        resp = await bot.post_telegram(press)
        assert resp.status == 200
        answer = await resp.json()
        assert answer["method"] == "answerCallbackQuery" and answer["text"] == PRIVATE_ONLY
    await bot.settled()
    assert (await escalation(bot)).state == "open"
    assert not fake_telegram.sent("editMessageText")

    # a press in a private chat whose `from` is not the chat is no identity either
    stranger = callback_update(LI, "esc:ack:1", message_id=alert)
    stranger["callback_query"]["from"]["id"] = MEMBER
    assert (await (await bot.post_telegram(stranger)).json())["text"] == PRIVATE_ONLY
    await bot.settled()
    assert (await escalation(bot)).state == "open"

    # positive control: Li presses it in the private chat
    resp = await bot.post_telegram(callback_update(LI, "esc:ack:1", message_id=alert))
    assert "text" not in await resp.json()
    await fake_telegram.wait_sent(1, "editMessageText")
    esc = await escalation(bot)
    assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li")
