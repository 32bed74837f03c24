"""The webhook's first read of a Telegram update, from its JSON: whose it is, and is it taken in.

python-telegram-bot's full reading (`Update.de_json`, and the repair of old shapes) was over
a third of a webhook's time under load (py-spy, `bench/profile.py` with the engine paused),
yet the request needs only the chat, whether the sender is that chat (the identity rule in
channels/telegram.py), a button press's id and the words for the stored row. So for the
plain shapes that are most of the traffic, a text typed in a private chat and a button
pressed there, the request reads just those and stores the raw update; PTB reads it in
the engine's worker (`TelegramAdapter.read_stored`), whose reading is the one handled.

A shape this read does not know exactly (a file, an edit, a service message, an unknown
field, a null) gets no first read: the request parses it in full as before, so nothing
here decides differently from PTB about anything but the plainest updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Where a client's typed words arrive, and the fields of such a message this read knows.
# Any other field (a photo, a contact card, a forwarded origin, …) means PTB reads it now.
TEXT_FIELDS = ("message", "business_message")
PLAIN_MESSAGE = frozenset(
    {"message_id", "date", "chat", "from", "text", "entities", "business_connection_id"}
    | {"link_preview_options", "reply_to_message"}
)
PLAIN_BUTTON = frozenset({"id", "from", "message", "chat_instance", "data"})
PLAIN_UPDATE = frozenset({"update_id", *TEXT_FIELDS, "callback_query"})
# The stored message's extra: the raw update, until the worker has read it.
DEFERRED = "telegram_update"


@dataclass(frozen=True, slots=True)
class FirstRead:
    chat_id: int
    taken: bool  # a private chat whose sender is the chat: the only kind acted on
    text: str  # the typed words, or a button's value
    callback_id: str | None = None  # a button press, answered in the webhook's reply


def first_read(data: dict[str, Any]) -> FirstRead | None:
    """The first read of a plain update; None when the update is not one (PTB reads it now)."""
    if not data.keys() <= PLAIN_UPDATE or len(data) != 2:
        return None
    press = data.get("callback_query")
    if press is not None:
        return _button(press)
    field = TEXT_FIELDS[0] if TEXT_FIELDS[0] in data else TEXT_FIELDS[1]
    msg = data[field]
    if not isinstance(msg, dict) or not msg.keys() <= PLAIN_MESSAGE:
        return None
    text, chat_id, chat_type = msg.get("text"), _id(msg.get("chat")), _type(msg.get("chat"))
    if not isinstance(text, str) or not text.strip() or chat_id is None or chat_type is None:
        return None
    if not isinstance(msg.get("message_id"), int) or not isinstance(msg.get("date"), int):
        return None
    return FirstRead(chat_id, _private(chat_id, chat_type, msg.get("from")), text)


def _button(press: Any) -> FirstRead | None:
    if not isinstance(press, dict) or not press.keys() <= PLAIN_BUTTON:
        return None
    msg, data, callback_id = press.get("message"), press.get("data"), press.get("id")
    if not isinstance(msg, dict) or not isinstance(data, str) or not isinstance(callback_id, str):
        return None
    chat_id, chat_type = _id(msg.get("chat")), _type(msg.get("chat"))
    if chat_id is None or chat_type is None or not isinstance(msg.get("message_id"), int):
        return None
    return FirstRead(chat_id, _private(chat_id, chat_type, press.get("from")), data, callback_id)


def _private(chat_id: int, chat_type: str, sender: Any) -> bool:
    """channels/telegram_inbound.py's `private_sender`, on the JSON."""
    return chat_type == "private" and isinstance(sender, dict) and _plain_int(sender.get("id")) == chat_id


def _id(chat: Any) -> int | None:
    return _plain_int(chat.get("id")) if isinstance(chat, dict) else None


def _type(chat: Any) -> str | None:
    kind = chat.get("type") if isinstance(chat, dict) else None
    return kind if isinstance(kind, str) else None


def _plain_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
