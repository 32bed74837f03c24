"""TelegramAdapter on its own: every Update shape we act on, and files sent through PTB's Bot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from telegram import Update

from bot.messages import Attachment, AttachmentKind, Button, Channel, OutboundMessage, SendError
from channels.base import MediaStore
from channels.telegram import TelegramAdapter, parse_update
from config.settings import TelegramSettings
from tests.fakes.telegram import FakeTelegram, callback_update, message_update


def parsed(data: dict) -> object:  # type: ignore[type-arg]
    return parse_update(Update.de_json(json.loads(json.dumps(data)), None))


def test_document_voice_video_reply_and_album_are_normalised() -> None:
    doc = message_update(
        1,
        caption="invoice attached",
        document={
            "file_id": "D1",
            "file_unique_id": "d",
            "file_name": "inv.pdf",
            "mime_type": "application/pdf",
            "file_size": 1234,
        },
        reply_to_message_id=77,
        media_group_id="album-9",
    )
    m = parsed(doc)
    assert m.text == "invoice attached" and m.reply_to == "77" and m.media_group_id == "album-9"  # type: ignore[attr-defined]
    [att] = m.attachments  # type: ignore[attr-defined]
    assert (att.kind, att.mime, att.provider_ref, att.filename, att.size) == (
        AttachmentKind.DOCUMENT,
        "application/pdf",
        "D1",
        "inv.pdf",
        1234,
    )
    video = message_update(1)
    video["message"]["video"] = {
        "file_id": "V1",
        "file_unique_id": "v",
        "width": 1,
        "height": 1,
        "duration": 3,
        "mime_type": "video/mp4",
        "file_size": 99,
    }
    video["message"]["voice"] = {
        "file_id": "A1",
        "file_unique_id": "a",
        "duration": 2,
        "mime_type": "audio/ogg",
    }
    kinds = [(a.kind, a.provider_ref) for a in parsed(video).attachments]  # type: ignore[attr-defined]
    assert kinds == [(AttachmentKind.VIDEO, "V1"), (AttachmentKind.VOICE, "A1")]
    photo = parsed(message_update(1, photo_file_id="BIG", photo_size=5000))
    assert [a.provider_ref for a in photo.attachments] == ["BIG"]  # type: ignore[attr-defined]
    button = parsed(callback_update(5, "menu:claim", message_id=12))
    assert button.is_button and button.text == "menu:claim" and button.reply_to == "12"  # type: ignore[attr-defined]
    assert button.channel_user_id == "5" and button.extra["callback_query_id"]  # type: ignore[attr-defined]


def test_updates_we_do_not_act_on_give_nothing() -> None:
    """A pin, a group's message, an Update with nothing in it (edits: test_telegram_inbound.py)."""
    pinned = message_update(1)
    pinned["message"]["pinned_message"] = message_update(1, text="x")["message"]
    group = message_update(1, text="hello")
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "Buyers"}
    assert parsed(pinned) is None and parsed(group) is None
    assert parse_update(Update.de_json({"update_id": 6}, None)) is None


async def test_files_go_through_sendphoto_and_senddocument(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path, 1_000_000)
    _sha, photo_path, _ = await store.save_bytes(b"\xff\xd8photo-bytes")
    _sha2, pdf_path, _ = await store.save_bytes(b"%PDF-1.4 packing list")
    adapter = TelegramAdapter(
        TelegramSettings(
            enabled=True,
            token=fake_telegram.token,
            webhook_secret="s",
            api_base_url=fake_telegram.api_base_url,
            file_base_url=fake_telegram.file_base_url,
        ),
        store,
    )
    await adapter.start()
    try:
        out = OutboundMessage(
            Channel.TELEGRAM,
            "42",
            "Packing list for PO-2026-0117",
            attachments=[
                Attachment(
                    AttachmentKind.PHOTO, "image/jpeg", stored_path=str(photo_path), filename="defect.jpg"
                ),
                Attachment(
                    AttachmentKind.DOCUMENT,
                    "application/pdf",
                    stored_path=str(pdf_path),
                    filename="packing-list.pdf",
                ),
            ],
            buttons=[Button("OK", "ok")],
            idempotency_key="k",
        )
        provider_id = await adapter.send(out)
        photo, doc = fake_telegram.sent("sendPhoto"), fake_telegram.sent("sendDocument")
        assert photo[0].files["photo"] == b"\xff\xd8photo-bytes"
        assert photo[0].params["caption"] == "Packing list for PO-2026-0117"
        assert doc[0].files["document"] == b"%PDF-1.4 packing list"
        assert provider_id.isdigit() and fake_telegram.sent("sendMessage") == []
        long_text = OutboundMessage(
            Channel.TELEGRAM,
            "42",
            "x" * 2000,
            attachments=[Attachment(AttachmentKind.DOCUMENT, stored_path=str(pdf_path))],
            idempotency_key="k2",
        )
        await adapter.send(long_text)  # too long for a caption: the file, then the text as its own message
        assert fake_telegram.sent("sendMessage")[0].params["text"] == "x" * 2000
        with pytest.raises(SendError) as exc:
            await adapter.send(OutboundMessage(Channel.TELEGRAM, "42", "", idempotency_key="k3"))
        assert exc.value.permanent
    finally:
        await adapter.close()
