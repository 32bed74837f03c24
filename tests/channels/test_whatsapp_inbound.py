"""Forms on the WhatsApp inbound URL that are no client message: status reports and our own number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from storage.models import Message
from tests.channels.test_whatsapp import ACME, EMPTY_TWIML, conversation_messages, make_bot, post
from tests.conftest import BotHarness
from tests.fakes.twilio import FROM_NUMBER, FakeTwilio, inbound_form, new_sid, status_form

INBOUND = "/webhooks/whatsapp"


async def inbound_rows(h: BotHarness) -> list[Message]:
    async with h.db.read() as s:
        return list((await s.execute(select(Message).where(Message.direction == "in"))).scalars())


async def message_count(h: BotHarness) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Message))).scalar_one())


async def answered_once(h: BotHarness, fake: FakeTwilio) -> str:
    """Positive control: a client's message is stored and answered; returns our reply's SID."""
    resp = await post(h, inbound_form(ACME, "hello"))
    assert resp.status == 200
    [call] = await fake.wait_created(1)
    assert "How can we help" in call.params["Body"]
    assert await h.settled() == ["sent"]
    return call.sid or ""


async def test_status_callback_on_the_inbound_url_is_applied_not_stored_nor_answered(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, any_db_url, fake_twilio)
    sid = await answered_once(h, fake_twilio)
    before = await message_count(h)
    no_message_status = [(k, v) for k, v in status_form(sid, "read") if k != "MessageStatus"]
    for form in (status_form(sid, "delivered"), no_message_status, status_form(new_sid("SM"), "sent")):
        resp = await post(h, form, path=INBOUND)
        assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    assert await h.settled() == ["sent"]
    assert len(await inbound_rows(h)) == 1 and await message_count(h) == before
    assert len(fake_twilio.created()) == 1  # no menu for a "client" that is a status report
    [out] = [m for m in await conversation_messages(h) if m["direction"] == "out"]
    assert out["delivery"] == "read"  # applied as the status update it is


async def test_a_message_from_our_own_number_is_never_stored_nor_answered(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    for text in ("hello", "menu", ""):
        resp = await post(h, inbound_form(FROM_NUMBER, text), path=INBOUND)
        assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    assert await h.settled() == []
    assert await inbound_rows(h) == [] and fake_twilio.created() == []
    await answered_once(h, fake_twilio)  # the client next to it still gets the bot
    assert [m.channel_user_id for m in await inbound_rows(h)] == [ACME]


async def test_an_inbound_form_carrying_the_sid_of_our_own_send_is_not_a_client_message(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    sid = await answered_once(h, fake_twilio)
    echo = inbound_form(ACME, "How can we help?", sid=sid)
    resp = await post(h, echo, path=INBOUND)
    assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    assert await h.settled() == ["sent"]
    assert len(await inbound_rows(h)) == 1 and len(fake_twilio.created()) == 1
