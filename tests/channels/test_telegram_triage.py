"""The webhook's first read of a plain Telegram update agrees with python-telegram-bot's full one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.telegram_inbound import parse_update
from channels.telegram_repair import read_update
from channels.telegram_triage import first_read
from tests.fakes.telegram import callback_update, message_update

CHAT_TYPES = st.sampled_from(["private", "group", "supergroup", "channel"])
IDS = st.integers(min_value=-(10**12), max_value=10**12)


@st.composite
def senders(draw: st.DrawFn, chat_id: int) -> Any:
    """The chat itself, someone else, nobody, or a null (older and odd shapes)."""
    kind = draw(st.sampled_from(["self", "other", "absent", "null"]))
    if kind == "absent":
        return None
    if kind == "null":
        return {"from": None}
    user_id = chat_id if kind == "self" else draw(IDS.filter(lambda i: i != chat_id))
    return {"from": {"id": user_id, "is_bot": False, "first_name": "Anna"}}


@st.composite
def text_updates(draw: st.DrawFn) -> dict[str, Any]:
    chat_id, chat_type = draw(IDS), draw(CHAT_TYPES)
    update = message_update(chat_id, text=draw(st.text(max_size=40)))
    msg = update["message"]
    msg["chat"]["type"] = chat_type
    msg.pop("from")
    msg.update(draw(senders(chat_id)) or {})
    if draw(st.booleans()):
        update["business_message"] = {**update.pop("message"), "business_connection_id": "bc-1"}
    return update


@st.composite
def button_updates(draw: st.DrawFn) -> dict[str, Any]:
    chat_id, chat_type = draw(IDS), draw(CHAT_TYPES)
    update = callback_update(chat_id, draw(st.text(min_size=1, max_size=20)))
    press = update["callback_query"]
    press["message"]["chat"]["type"] = chat_type
    press.pop("from")
    press.update(draw(senders(chat_id)) or {})
    return update


@settings(max_examples=300, deadline=None)
@given(st.one_of(text_updates(), button_updates()))
def test_a_first_read_decides_as_the_full_reading_does(update: dict[str, Any]) -> None:
    first = first_read(update)
    full_update = read_update(update)
    full = parse_update(full_update) if full_update is not None else None
    if first is None:
        return  # not plain: the webhook reads it in full at once
    assert first.taken == (full is not None)
    if full is not None:
        assert full.channel_user_id == str(first.chat_id)
        assert full.text == first.text
        assert full.is_button == (first.callback_id is not None)
        assert full.extra.get("callback_query_id") == first.callback_id


def test_plain_text_and_button_presses_get_a_first_read() -> None:
    text = first_read(message_update(42, text="where is my order?"))
    assert text is not None and (text.chat_id, text.taken, text.text) == (42, True, "where is my order?")
    press = first_read(callback_update(42, "menu:claim"))
    assert press is not None and press.taken and press.callback_id and press.text == "menu:claim"


def test_what_is_not_plain_text_is_left_to_the_full_reading() -> None:
    photo = message_update(42, caption="torn strap", photo_file_id="P")
    edited = message_update(42, text="fixed typo")
    edited["edited_message"] = edited.pop("message")
    empty = message_update(42, text="   ")
    unknown = message_update(42, text="hi")
    unknown["message"]["forward_origin"] = {"type": "hidden_user", "date": 1, "sender_user_name": "x"}
    no_chat_type = message_update(42, text="hi")
    del no_chat_type["message"]["chat"]["type"]
    string_id = message_update(42, text="hi")
    string_id["message"]["chat"]["id"] = "42"
    channel_post = {"update_id": 1, "channel_post": {"message_id": 1, "date": 1, "text": "x",
                                                     "chat": {"id": -5, "type": "channel"}}}  # fmt: skip
    for update in (photo, edited, empty, unknown, no_chat_type, string_id, channel_post):
        assert first_read(update) is None, update


def test_a_group_message_is_read_as_not_taken() -> None:
    update = message_update(-100, text="hello all")
    update["message"]["chat"]["type"] = "group"
    update["message"]["from"]["id"] = 7
    first = first_read(update)
    assert first is not None and not first.taken
