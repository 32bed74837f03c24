"""Telegram Update → normalised message: which updates are a client's words, and what they carry.

A client writes in a private chat (`message`), or to a business account the bot serves
(`business_message`); a correction arrives as `edited_message` / `edited_business_message`
and is stored as an edit of the original (`extra["edit_of"]`, the Telegram message id). A
post in a channel the bot administers is kept as an event nobody answers. Service messages
(joins, leaves, pins, title changes, payments, giveaways, forum topics) carry nothing a
client said: they are dropped, so the menu never answers a join.

Older and partial Update shapes are read by channels/telegram_repair.py, never refused.
"""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, Chat, Message, Update, User

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from channels.telegram_render import render

# Update fields holding a message, and what the message is to us.
MESSAGE_FIELDS = (
    ("message", "client"),
    ("business_message", "client"),
    ("edited_message", "edit"),
    ("edited_business_message", "edit"),
    ("channel_post", "channel"),
    ("edited_channel_post", "channel_edit"),
)


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
    # Every reply says how it goes back (a business connection, or none), so the adapter looks
    # the route up only for sends that answer no message (bot.ports.ReplyRoutes).
    extra["reply_extra"] = {"business_connection_id": msg.business_connection_id or None}
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
