"""Telegram Update → normalised message: which updates are a client's words, and what they carry.

A client writes in a private chat (`message`), or to a business account the bot serves
(`business_message`); a correction arrives as `edited_message` / `edited_business_message`
and is stored as an edit of the original (`extra["edit_of"]`, the Telegram message id). A
post in a channel the bot administers is kept as an event nobody answers. Service messages
(joins, leaves, pins, title changes, payments, giveaways, forum topics) carry nothing a
client said: they are dropped, so the menu never answers a join.

Older and partial Update shapes (files without `file_unique_id` from before Bot API 4.5,
`"from": null`, objects cut down to a few fields) make python-telegram-bot raise; they are
repaired and parsed again, and what still cannot be read is acknowledged and dropped, never
answered with 400 (Telegram would retry it for a day).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update, User

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from channels.telegram_render import render

log = logging.getLogger(__name__)

# Update fields holding a message, and what the message is to us.
MESSAGE_FIELDS = (
    ("message", "client"),
    ("business_message", "client"),
    ("edited_message", "edit"),
    ("edited_business_message", "edit"),
    ("channel_post", "channel"),
    ("edited_channel_post", "channel_edit"),
)


def read_update(data: dict[str, Any]) -> Update | None:
    """PTB's Update, after repairing an old or partial shape; None when even that fails."""
    repaired: Any = data
    for attempt in range(REPAIR_ROUNDS):
        try:
            return Update.de_json(repaired, None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = exc
            repaired = _repaired(repaired) if attempt == 0 else _with_defaults(repaired, _missing(exc))
    log.warning("telegram update %s unreadable, acknowledged and dropped: %s", data.get("update_id"), problem)
    return None


REPAIR_ROUNDS = 6
_MISSING = re.compile(r"`(\w+)` is a required argument|'(\w+)'")


def _missing(exc: Exception) -> set[str]:
    """The argument names PTB says it lacks ("missing 2 required positional arguments: 'a' and 'b'")."""
    return {a or b for a, b in _MISSING.findall(str(exc))}


def _repaired(node: Any) -> Any:
    """Fill what older Bot API versions did not send and drop nulls PTB cannot take."""
    if isinstance(node, list):
        return [_repaired(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _repaired(v) for k, v in node.items() if v is not None}
    if "file_id" in out and "file_unique_id" not in out:
        out["file_unique_id"] = str(out["file_id"])
    if "first_name" in out and "id" in out and "type" not in out and "is_bot" not in out:
        out["is_bot"] = False  # a user of before is_bot
    if "value" in out and set(out) <= {"value", "emoji"}:
        out.setdefault("emoji", "🎲")  # a dice of before emoji: there was only the die
    return out


def _with_defaults(node: Any, names: set[str]) -> Any:
    """Give every object that lacks one of `names` a neutral value for it (False, 0, "", [])."""
    if isinstance(node, list):
        return [_with_defaults(v, names) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _with_defaults(v, names) for k, v in node.items()}
    for name in names:
        if name not in out and name in _NEUTRAL_FOR:
            kind = _NEUTRAL_FOR[name]
            if kind is None or kind & set(out):
                out[name] = _NEUTRAL[name]
    return out


# Fields newer python-telegram-bot versions require and older payloads lack: which objects
# (recognised by a field they do have; None: any object) get which neutral value.
_NEUTRAL: dict[str, Any] = {
    "is_animated": False,
    "is_video": False,
    "type": "regular",
    "members_only": False,
    "allows_revoting": False,
    "persistent_id": "",
    "width": 0,
    "height": 0,
    "duration": 0,
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": False,
    "allows_multiple_answers": False,
    "voter_count": 0,
    "options": [],
}
_NEUTRAL_FOR: dict[str, set[str] | None] = {
    "is_animated": {"emoji", "set_name"},
    "is_video": {"emoji", "set_name"},
    "type": {"emoji", "set_name", "question"},
    "members_only": {"question"},
    "allows_revoting": {"question"},
    "persistent_id": {"voter_count"},
    "width": {"file_id"},
    "height": {"file_id"},
    "duration": {"file_id"},
    "total_voter_count": {"question"},
    "is_closed": {"question"},
    "is_anonymous": {"question"},
    "allows_multiple_answers": {"question"},
    "voter_count": {"text"},
    "options": {"question"},
}


def private_sender(chat: Chat, user: User | None) -> bool:
    """The sender is the chat: a private chat with this very user (see channels/telegram.py)."""
    return chat.type == Chat.PRIVATE and user is not None and user.id == chat.id


def parse_update(update: Update) -> InboundMessage | None:
    """One Update → one normalised message; updates we do not act on (joins, groups) → None."""
    uid = str(update.update_id)
    if update.callback_query is not None:
        return _button_press(update.callback_query, uid)
    for name, role in MESSAGE_FIELDS:
        msg = getattr(update, name, None)
        if isinstance(msg, Message):
            return _from_message(msg, uid, role)
    return None


def _button_press(cq: CallbackQuery, uid: str) -> InboundMessage | None:
    if cq.message is None or not private_sender(cq.message.chat, cq.from_user):
        return None  # pressed in a group (or on an inline message): no identity to act on
    return InboundMessage(
        channel=Channel.TELEGRAM,
        channel_user_id=str(cq.message.chat.id),
        provider_message_id=uid,
        text=cq.data or "",
        sender_name=cq.from_user.full_name,
        reply_to=str(cq.message.message_id),
        language_hint=cq.from_user.language_code,
        is_button=True,
        extra={"callback_query_id": cq.id},
    )


def _from_message(msg: Message, uid: str, role: str) -> InboundMessage | None:
    channel = role.startswith("channel")
    if channel:
        if msg.chat.type != Chat.CHANNEL:
            return None
    elif not private_sender(msg.chat, msg.from_user):
        return None
    text, fields = render(msg)
    attachments = _attachments(msg)
    if not text and not attachments:
        return None  # a service message: nobody said anything
    extra: dict[str, Any] = {"message_id": msg.message_id, **fields}
    if role in ("edit", "channel_edit"):
        extra["edit_of"] = str(msg.message_id)
        extra["edited_at"] = msg.edit_date.isoformat() if msg.edit_date else None
    if channel:
        extra.update(event="channel_post", no_reply=True)  # kept for staff, never answered
    if msg.business_connection_id:
        extra["business_connection_id"] = msg.business_connection_id
        extra["reply_extra"] = {"business_connection_id": msg.business_connection_id}
    sender = msg.from_user
    return InboundMessage(
        channel=Channel.TELEGRAM,
        channel_user_id=str(msg.chat.id),
        provider_message_id=uid,
        text=text,
        sender_name=sender.full_name if sender else msg.chat.title,
        attachments=attachments,
        received_at=msg.date,
        reply_to=str(msg.reply_to_message.message_id) if msg.reply_to_message else None,
        language_hint=sender.language_code if sender else None,
        media_group_id=msg.media_group_id,
        extra=extra,
    )


def _attachments(msg: Message) -> list[Attachment]:
    """Every file the message carries, fetched later through getFile like a photo."""
    out: list[Attachment] = []
    if msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        out.append(Attachment(AttachmentKind.PHOTO, "image/jpeg", largest.file_id, size=largest.file_size))
    if msg.document is not None and msg.animation is None:  # an animation also comes as a document
        doc = msg.document
        mime = doc.mime_type or "application/octet-stream"
        kind = (
            AttachmentKind.PHOTO
            if mime.startswith("image/")
            else (AttachmentKind.VIDEO if mime.startswith("video/") else AttachmentKind.DOCUMENT)
        )
        out.append(Attachment(kind, mime, doc.file_id, filename=doc.file_name, size=doc.file_size))
    for video, default in ((msg.video, "video/mp4"), (msg.animation, "video/mp4")):
        if video is not None:
            mime = video.mime_type or default
            out.append(
                Attachment(
                    AttachmentKind.VIDEO, mime, video.file_id, filename=video.file_name, size=video.file_size
                )
            )
    if msg.video_note is not None:
        note = msg.video_note
        out.append(Attachment(AttachmentKind.VIDEO, "video/mp4", note.file_id, size=note.file_size))
    for sound, default in ((msg.voice, "audio/ogg"), (msg.audio, "audio/mpeg")):
        if sound is not None:
            name = getattr(sound, "file_name", None)
            mime = sound.mime_type or default
            out.append(
                Attachment(AttachmentKind.VOICE, mime, sound.file_id, filename=name, size=sound.file_size)
            )
    return out
