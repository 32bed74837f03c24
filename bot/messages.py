"""The normalised types every layer past a channel adapter speaks.

Adapters turn provider payloads into these and these into provider calls; nothing
else in the project knows what a Twilio form or a Telegram Update looks like.
This module imports nothing of the project so that every layer may import it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WECHAT = "wechat"
    EMAIL = "email"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"
    VOICE = "voice"


@dataclass(slots=True)
class Attachment:
    """A file the client sent (before fetch: a provider reference) or a file we send."""

    kind: AttachmentKind
    mime: str = "application/octet-stream"
    provider_ref: str = ""
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    stored_path: str | None = None
    error: str | None = None  # why the fetch failed ("too_large", "fetch_failed", ...)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(**{**data, "kind": AttachmentKind(data["kind"])})


@dataclass(slots=True)
class InboundMessage:
    channel: Channel
    channel_user_id: str
    provider_message_id: str
    text: str = ""
    sender_name: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reply_to: str | None = None
    language_hint: str | None = None
    media_group_id: str | None = None
    is_button: bool = False  # a button press / menu click rather than typed text
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # provider details worth keeping (subject, thread ids)

    @property
    def sender_authenticated(self) -> bool:
        """Whether `channel_user_id` is known to be the sender, not just claimed by them.

        Webhook channels identify the sender themselves (the request is signed by the provider).
        An email address is whatever the sender typed: the email adapter sets
        `extra["sender_authenticated"]` only when our receiving server vouched for it (DMARC pass).
        """
        if self.channel != Channel.EMAIL:
            return True
        return self.extra.get("sender_authenticated") is True

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": str(self.channel),
            "channel_user_id": self.channel_user_id,
            "provider_message_id": self.provider_message_id,
            "text": self.text,
            "sender_name": self.sender_name,
            "attachments": [a.to_json() for a in self.attachments],
            "received_at": self.received_at.isoformat(),
            "reply_to": self.reply_to,
            "language_hint": self.language_hint,
            "media_group_id": self.media_group_id,
            "is_button": self.is_button,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        return cls(
            channel=Channel(data["channel"]),
            channel_user_id=data["channel_user_id"],
            provider_message_id=data["provider_message_id"],
            text=data.get("text") or "",
            sender_name=data.get("sender_name"),
            attachments=[Attachment.from_json(a) for a in data.get("attachments", [])],
            received_at=datetime.fromisoformat(data["received_at"]),
            reply_to=data.get("reply_to"),
            language_hint=data.get("language_hint"),
            media_group_id=data.get("media_group_id"),
            is_button=bool(data.get("is_button")),
            extra=data.get("extra") or {},
        )


@dataclass(slots=True)
class Button:
    """A quick reply: `label` is shown, `value` comes back as the client's text when pressed."""

    label: str
    value: str


@dataclass(slots=True)
class Edit:
    """Rewrite a message we sent (`message_id`, the provider's id) where the channel can edit.

    Where it cannot, `fallback` is sent as a new message instead, or nothing when it is None:
    the domain says what the news is worth, the channel's sender decides how it shows.
    """

    message_id: str
    fallback: str | None = None


@dataclass(slots=True)
class OutboundMessage:
    channel: Channel
    channel_user_id: str
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    idempotency_key: str = ""
    reply_to: str | None = None  # provider id of the message this answers, where the channel can quote
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. email subject and thread headers
    edit: Edit | None = None
    # True when the text already says how to answer without the buttons (commands, "reply 1–5"):
    # a channel without buttons then leaves them out instead of listing them as numbered lines.
    buttons_optional: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": str(self.channel),
            "channel_user_id": self.channel_user_id,
            "text": self.text,
            "attachments": [a.to_json() for a in self.attachments],
            "buttons": [asdict(b) for b in self.buttons],
            "idempotency_key": self.idempotency_key,
            "reply_to": self.reply_to,
            "extra": self.extra,
            "edit": asdict(self.edit) if self.edit else None,
            "buttons_optional": self.buttons_optional,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundMessage:
        extra = dict(data.get("extra") or {})
        edit = Edit(**data["edit"]) if data.get("edit") else None
        if edit is None and extra.get("edit_message_id"):  # rows queued before edits were typed
            edit = Edit(str(extra.pop("edit_message_id")))
        return cls(
            channel=Channel(data["channel"]),
            channel_user_id=data["channel_user_id"],
            text=data.get("text") or "",
            attachments=[Attachment.from_json(a) for a in data.get("attachments", [])],
            buttons=[Button(**b) for b in data.get("buttons", [])],
            idempotency_key=data.get("idempotency_key") or "",
            reply_to=data.get("reply_to"),
            extra=extra,
            edit=edit,
            buttons_optional=bool(data.get("buttons_optional")),
        )


class SendError(Exception):
    """An adapter's failure to deliver, classified so the outbox knows what to do next.

    `permanent` errors (chat not found, blocked, invalid recipient) are not retried;
    `retry_after` is the provider's own back-off request and overrides ours;
    `window_closed` marks a messaging window that has closed (WhatsApp 24 h, WeChat 48 h).
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        window_closed: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.window_closed = window_closed


class MediaTooLarge(Exception):
    def __init__(self, size: int | None, limit: int) -> None:
        super().__init__(f"media of {size if size is not None else 'unknown'} bytes exceeds {limit}")
        self.size = size
        self.limit = limit


class MediaRefused(Exception):
    """The media reference points somewhere we will not fetch from."""


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str, fallback: str | None = None) -> str:
    """CJK in the text means Chinese; Latin words mean English; otherwise the fallback.

    Order numbers and bare digits say nothing about the language, so a Chinese client
    typing only "PO-2026-0117" keeps their configured language.
    """
    if _CJK.search(text or ""):
        return "zh"
    words = [w for w in _LATIN_WORD.findall(text or "") if w.upper() not in {"PO", "PI", "CLM", "ESC", "SKU"}]
    if words:
        return "en"
    return fallback or "en"
