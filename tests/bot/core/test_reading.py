"""What a worker reads of a stored message before it takes the conversation's turn."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.metrics import Metrics
from bot.core.reading import MessageReading
from bot.messages import Channel, InboundMessage
from storage.repos.messages import Unhandled

STORED = InboundMessage(Channel.TELEGRAM, "42", "900", text="hello", extra={"raw": {"update_id": 900}})


def row(message: InboundMessage = STORED) -> Unhandled:
    return Unhandled(1, message.provider_message_id, message.text, message.to_json(), datetime.now(UTC))


class Adapter:
    """An adapter whose webhook stored a first read: this reads the rest (bot.ports.StoredReader)."""

    def __init__(self, reading: InboundMessage | None) -> None:
        self.reading = reading

    def read_stored(self, message: InboundMessage) -> InboundMessage | None:
        return self.reading if "raw" in message.extra else message


async def test_a_deferred_parse_is_handled_and_becomes_the_rows_payload() -> None:
    full = InboundMessage(Channel.TELEGRAM, "42", "900", text="hello", sender_name="Anna", extra={"id": 7})
    reading = await MessageReading({}, Metrics(), stored_readers={"telegram": Adapter(full)}).read(row())
    assert reading.message is full
    assert reading.content is not None
    text, payload = reading.content
    assert text == "hello" and payload == full.to_json()


async def test_a_message_read_in_full_at_its_webhook_keeps_its_row() -> None:
    plain = InboundMessage(Channel.TELEGRAM, "42", "901", text="hi")
    reading = await MessageReading({}, Metrics(), stored_readers={"telegram": Adapter(None)}).read(row(plain))
    assert reading.message.text == "hi" and reading.content is None


async def test_nothing_said_is_kept_handled_and_never_answered() -> None:
    reading = await MessageReading({}, Metrics(), stored_readers={"telegram": Adapter(None)}).read(row())
    assert reading.message.extra == {"no_reply": True}
    assert reading.content is not None and reading.content[1]["extra"] == {"no_reply": True}


async def test_words_a_media_reader_found_become_the_rows_text() -> None:
    async def names(message: InboundMessage) -> None:
        message.text = "👤 Wei Zhou +8613800000000"
        message.extra["contact"] = {"name": "Wei Zhou"}

    stored = InboundMessage(Channel.WHATSAPP, "+86", "SM1", text="", extra={"kept": 1})
    reading = await MessageReading({}, Metrics(), media_readers=[names]).read(row(stored))
    assert reading.content is not None
    text, payload = reading.content
    assert text == "👤 Wei Zhou +8613800000000"
    assert payload["text"] == text and payload["extra"] == {"kept": 1, "contact": {"name": "Wei Zhou"}}
    assert payload["provider_message_id"] == "SM1"
