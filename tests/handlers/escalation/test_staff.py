"""Staff answering from their phones: replies reach the client, the client's messages reach staff, /close."""

from __future__ import annotations

from pathlib import Path

import pytest_asyncio
from sqlalchemy import select

from storage.models import Conversation, Escalation, Message
from tests.conftest import BotHarness
from tests.fakes.oncall import (
    ACME_CHAT,
    ANNA,
    LI,
    Clock,
    alert_message_id,
    alerts_to,
    escalation,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, message_update


@pytest_asyncio.fixture
async def bot(tmp_path: Path, db_url: str, fake_telegram: FakeTelegram):  # type: ignore[no-untyped-def]
    clock = Clock()
    h = await start_bot(
        escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)), clock
    )
    h.clock = clock  # type: ignore[attr-defined]
    yield h
    await h.close()


async def client_conversation(h: BotHarness, chat: int = ACME_CHAT) -> Conversation:
    async with h.db.read() as s:
        from storage.models import Contact

        return (
            (
                await s.execute(
                    select(Conversation)
                    .join(Contact, Contact.id == Conversation.contact_id)
                    .where(Contact.channel_user_id == str(chat))
                    .order_by(Conversation.id.desc())
                )
            )
            .scalars()
            .first()
        )  # type: ignore[return-value]


async def handoff(h: BotHarness, fake: FakeTelegram) -> None:
    await h.post_telegram(message_update(ACME_CHAT, text="I want to talk to a person"))
    await fake.wait_for(lambda f: alerts_to(f, LI))
    await h.settled()


async def test_staff_reply_reaches_client_and_client_messages_reach_staff_until_close(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await handoff(bot, fake_telegram)
    assert any("A colleague has been notified" in t for t in fake_telegram.texts_to(ACME_CHAT))
    alert = await alert_message_id(bot, "li")
    await bot.post_telegram(
        message_update(LI, text="Hello, this is Li. Which order?", reply_to_message_id=alert)
    )
    await fake_telegram.wait_for(lambda f: any("Hello, this is Li" in t for t in f.texts_to(ACME_CHAT)))
    assert "Li Wei: Hello, this is Li. Which order?" in fake_telegram.texts_to(ACME_CHAT)
    await bot.settled()
    conv = await client_conversation(bot)
    assert (conv.state, conv.assigned_staff) == ("with_staff", "li")
    async with bot.db.read() as s:
        stored = (
            await s.execute(
                select(Message.text).where(Message.conversation_id == conv.id, Message.direction == "out")
            )
        ).scalars()
        assert "Li Wei: Hello, this is Li. Which order?" in list(stored)
    esc = await escalation(bot)
    assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li")  # answering takes it

    # the client's next messages go to Li, not to the bot
    before = len(fake_telegram.texts_to(ACME_CHAT))
    await bot.post_telegram(message_update(ACME_CHAT, text="hello, PO-2026-0117 please"))
    await fake_telegram.wait_for(lambda f: any("PO-2026-0117 please" in t for t in f.texts_to(LI)))
    forwarded = next(t for t in fake_telegram.texts_to(LI) if "PO-2026-0117 please" in t)
    assert "ESC-000001" in forwarded and "Acme Bags" in forwarded
    await bot.settled()
    assert len(fake_telegram.texts_to(ACME_CHAT)) == before  # no menu from the bot meanwhile

    # Li answers the forwarded message by replying to it: that also reaches the client
    await bot.settled()
    async with bot.db.read() as s:
        from storage.models import OutboxRow

        fwd_id = (
            await s.execute(
                select(OutboxRow.provider_message_id).where(OutboxRow.idempotency_key.like("esc:1:fwd:%"))
            )
        ).scalar_one()
    await bot.post_telegram(message_update(LI, text="It ships Friday.", reply_to_message_id=int(fwd_id)))
    await fake_telegram.wait_for(lambda f: "Li Wei: It ships Friday." in f.texts_to(ACME_CHAT))

    # /close hands the conversation back to the bot
    await bot.post_telegram(message_update(LI, text="/close 1"))
    await fake_telegram.wait_for(lambda f: any("ESC-000001 resolved" in t for t in f.texts_to(LI)))
    await bot.settled()
    conv = await client_conversation(bot)
    assert (conv.state, conv.assigned_staff) == ("bot", None)
    assert (await escalation(bot)).state == "resolved"
    await bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await fake_telegram.wait_for(lambda f: any("How can we help" in t for t in f.texts_to(ACME_CHAT)))
    assert not any(t.endswith("\nhello") for t in fake_telegram.texts_to(LI))


async def test_slash_r_and_a_photo_from_staff_reach_the_client(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await handoff(bot, fake_telegram)
    await bot.post_telegram(message_update(LI, text="/r ESC-000001 We will send a replacement."))
    await fake_telegram.wait_for(lambda f: "Li Wei: We will send a replacement." in f.texts_to(ACME_CHAT))
    photo = b"\xff\xd8\xff\xe0" + b"corrected label" * 50
    fake_telegram.add_file("LABEL1", photo)
    alert = await alert_message_id(bot, "li")
    await bot.post_telegram(
        message_update(LI, caption="This is the new label", photo_file_id="LABEL1", reply_to_message_id=alert)
    )
    await fake_telegram.wait_for(
        lambda f: any(str(c.params.get("chat_id")) == str(ACME_CHAT) for c in f.sent("sendPhoto"))
    )
    [call] = [c for c in fake_telegram.sent("sendPhoto") if str(c.params.get("chat_id")) == str(ACME_CHAT)]
    assert call.files["photo"] == photo
    assert call.params["caption"] == "Li Wei: This is the new label"


async def test_client_typing_staff_commands_is_just_text(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await bot.post_telegram(message_update(ACME_CHAT, text="urgent please"))
    await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
    await bot.settled()
    await bot.post_telegram(message_update(ACME_CHAT, text="/ack 1"))
    await bot.post_telegram(message_update(ACME_CHAT, text="/close 1"))
    await bot.post_telegram(message_update(ACME_CHAT, text="/r 1 hi"))
    await bot.settled()
    esc = await escalation(bot)
    assert esc.state == "open" and esc.acknowledged_by is None
    assert not any("You have ESC" in t or "resolved" in t for t in fake_telegram.texts_to(ACME_CHAT))
    async with bot.db.read() as s:
        assert (await s.execute(select(Escalation.state))).scalars().all() == ["open"]


async def test_staff_oncall_mine_override_and_help(bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await bot.post_telegram(message_update(ANNA, text="/oncall"))
    await fake_telegram.wait_for(lambda f: any("On call now" in t for t in f.texts_to(ANNA)))
    oncall = next(t for t in fake_telegram.texts_to(ANNA) if "On call now" in t)
    assert "primary: Li Wei" in oncall and "secondary: Anna Schmidt" in oncall

    await bot.post_telegram(message_update(LI, text="/override anna 4 primary"))
    await fake_telegram.wait_for(lambda f: any("is on call for primary" in t for t in f.texts_to(LI)))
    await bot.post_telegram(message_update(ACME_CHAT, text="emergency!"))
    await fake_telegram.wait_for(lambda f: alerts_to(f, ANNA))  # the swap pages Anna at level 1
    assert alerts_to(fake_telegram, LI) == []

    await bot.post_telegram(message_update(ANNA, text="/ack 1"))
    await bot.post_telegram(message_update(ANNA, text="/mine"))
    await fake_telegram.wait_for(lambda f: any("Your open escalations" in t for t in f.texts_to(ANNA)))
    assert "ESC-000001" in next(t for t in fake_telegram.texts_to(ANNA) if "Your open escalations" in t)

    # anything else from staff gets a short help, never the client menu; /claim is left for its handler
    await bot.post_telegram(message_update(LI, text="/frobnicate"))
    await bot.post_telegram(message_update(LI, text="hello"))
    await fake_telegram.wait_for(lambda f: sum("Staff commands" in t for t in f.texts_to(LI)) == 2)
    assert not any("How can we help" in t for t in fake_telegram.texts_to(LI))


def test_staff_commands_leave_other_engineers_commands_alone() -> None:
    from handlers.escalation.staff import BUTTON, COMMAND

    assert (
        COMMAND.match("/ack 42")
        and COMMAND.match("/r 42 hello\nsecond line")
        and COMMAND.match("/close@bot 1")
    )
    assert (
        not COMMAND.match("/claim 17 qc pass")
        and not COMMAND.match("/note PO-1 x")
        and not COMMAND.match("/ra")
    )
    assert BUTTON.match("esc:ack:42") and not BUTTON.match("menu:claim")


async def test_idle_conversation_with_staff_returns_to_the_bot(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    clock = Clock()
    rota = write_rota(tmp_path, level2=60)
    h = await start_bot(
        escalation_settings(tmp_path, db_url, fake_telegram, rota, relay_idle_seconds=600), clock
    )
    try:
        await handoff(h, fake_telegram)
        await h.post_telegram(message_update(LI, text="/r 1 Looking into it"))
        await fake_telegram.wait_for(lambda f: "Li Wei: Looking into it" in f.texts_to(ACME_CHAT))
        await h.settled()
        clock.advance(601)
        await h.post_telegram(message_update(ACME_CHAT, text="hello?"))
        await fake_telegram.wait_for(lambda f: any("How can we help" in t for t in f.texts_to(ACME_CHAT)))
        await h.settled()
        assert not any("hello?" in t for t in fake_telegram.texts_to(LI))
        conv = await client_conversation(h)
        assert (conv.state, conv.assigned_staff) == ("bot", None)
    finally:
        await h.close()


async def test_client_photo_during_handoff_is_forwarded_to_staff(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await handoff(bot, fake_telegram)
    await bot.post_telegram(message_update(LI, text="/ack 1"))
    await fake_telegram.wait_for(lambda f: any("You have ESC-000001" in t for t in f.texts_to(LI)))
    await bot.settled()
    photo = b"\xff\xd8\xff\xe0" + b"torn seam" * 80
    fake_telegram.add_file("SEAM1", photo)
    await bot.post_telegram(message_update(ACME_CHAT, caption="see the seam", photo_file_id="SEAM1"))
    await fake_telegram.wait_for(
        lambda f: any(str(c.params.get("chat_id")) == str(LI) for c in f.sent("sendPhoto"))
    )
    [call] = [c for c in fake_telegram.sent("sendPhoto") if str(c.params.get("chat_id")) == str(LI)]
    assert call.files["photo"] == photo
    assert "ESC-000001" in call.params["caption"] and "see the seam" in call.params["caption"]


async def test_after_a_handoff_the_clients_next_messages_reach_the_paged_staff_not_the_bot(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await handoff(bot, fake_telegram)
    replies_before = len(fake_telegram.texts_to(ACME_CHAT))
    await bot.post_telegram(message_update(ACME_CHAT, text="hello? my order PO-2026-0117 is late"))
    await fake_telegram.wait_for(
        lambda f: any(t.endswith("my order PO-2026-0117 is late") for t in f.texts_to(LI))
    )
    await bot.settled()
    assert (
        len(fake_telegram.texts_to(ACME_CHAT)) == replies_before
    )  # the bot stays quiet: a person was asked for
    conv = await client_conversation(bot)
    assert (conv.state, conv.assigned_staff) == ("with_staff", None)
    await bot.post_telegram(message_update(LI, text="/close 1"))
    await bot.settled()
    conv = await client_conversation(bot)
    assert conv.state == "bot"


async def test_conversation_taken_over_in_the_console_forwards_to_that_staff_phone_and_quotes_come_back(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    from storage.models import OutboxRow
    from storage.repos import console as console_repo

    await bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await bot.settled()
    conv = await client_conversation(bot)
    async with bot.db.write() as s:
        await console_repo.staff_reply(s, conv.id, "li", "Hi, Li from the console.", "nonce-1")
    bot.runtime.dispatcher.wake()
    await fake_telegram.wait_for(lambda f: any("Li from the console" in t for t in f.texts_to(ACME_CHAT)))
    await bot.post_telegram(message_update(ACME_CHAT, text="thanks, what about the invoice?"))
    await fake_telegram.wait_for(lambda f: any(t.endswith("what about the invoice?") for t in f.texts_to(LI)))
    await bot.settled()
    async with bot.db.read() as s:
        fwd = (
            await s.execute(
                select(OutboxRow.provider_message_id).where(OutboxRow.idempotency_key.like("conv:%:fwd:%"))
            )
        ).scalar_one()
    await bot.post_telegram(message_update(LI, text="Invoice follows today.", reply_to_message_id=int(fwd)))
    await fake_telegram.wait_for(lambda f: "Li Wei: Invoice follows today." in f.texts_to(ACME_CHAT))
