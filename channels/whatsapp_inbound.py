"""The inbound Twilio form: what it is (a client's message, a status report, our own echo) and its parsing.

Twilio posts two kinds of form: a message (Body, From the client) and a status report for
one of our sends (MessageStatus/SmsStatus, no Body, From our number). A status callback
that reaches the inbound URL — a console misconfiguration, or a StatusCallback pointing at
the wrong path — must never become an empty "client message" answered with the menu, and
neither may anything sent From our own number (a sandbox loop, another bot on the number).
Both are answered 200 with empty TwiML and store nothing; a status report is still applied
to the delivery state of the message it names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from multidict import MultiDict

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from bot.ports import OutboundIds, WebhookRejected

log = logging.getLogger(__name__)

MAX_INBOUND_MEDIA = 10  # Twilio sends at most 10 MediaUrl{N}
INBOUND_STATES = frozenset({"received", "receiving"})  # SmsStatus on a genuine inbound message

WINDOW_CLOSED = 63016  # "outside the allowed window": free-form text more than 24 h after the client wrote

# (channel, provider message id, delivery state, provider error code, window closed?) -> known id?
StatusCallback = Callable[[str, str, str, int | None, bool], Awaitable[bool]]

# Twilio's MessageStatus values, reduced to the delivery states the API shows.
STATUS_MAP = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}


def bare_number(address: str) -> str:
    """`whatsapp:+49 170…` and `+49170…` name the same number: compare digits only."""
    return "".join(ch for ch in address.removeprefix("whatsapp:") if ch.isdigit())


def status_of(form: MultiDict[str]) -> str | None:
    """The report's status when the form is a status callback rather than a message, else None."""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not status:
        return None
    if "Body" not in form or status not in INBOUND_STATES:  # inbound messages say "received"
        return status
    return None


def error_code_of(form: MultiDict[str]) -> int | None:
    raw = form.get("ErrorCode") or ""
    return int(raw) if raw.isdigit() else None


class InboundFilter:
    """Decides, after the signature check, whether a verified form is a client's message at all."""

    def __init__(
        self, own_number: str, on_status: StatusCallback | None, outbound_ids: OutboundIds | None = None
    ) -> None:
        self.own = bare_number(own_number)
        self.on_status = on_status
        self.outbound_ids = outbound_ids

    async def skip_reason(self, form: MultiDict[str]) -> str | None:
        """Why this form is not a client message (it is then stored nowhere), or None if it is one."""
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = status_of(form)
        if status is not None:
            if sid and status in STATUS_MAP and self.on_status is not None:
                code = error_code_of(form)  # the adapter knows Twilio's codes; delivery decides
                closed = code == WINDOW_CLOSED
                await self.on_status(str(Channel.WHATSAPP), sid, STATUS_MAP[status], code, closed)
            return f"status callback ({status}) posted to the inbound URL"
        sender = form.get("From", "")
        if self.own and bare_number(sender) == self.own:
            return "message from our own number"
        if sid and await self._ours(sid, [form.get("From", ""), form.get("To", "")]):
            return "the id of a message we sent"
        return None

    async def _ours(self, sid: str, addresses: list[str]) -> bool:
        if self.outbound_ids is None:
            return False
        return await self.outbound_ids.is_outbound_id(str(Channel.WHATSAPP), [a for a in addresses if a], sid)


def kind_for(mime: str) -> AttachmentKind:
    if mime.startswith("image/"):
        return AttachmentKind.PHOTO
    if mime.startswith("video/"):
        return AttachmentKind.VIDEO
    if mime.startswith("audio/"):
        return AttachmentKind.VOICE
    return AttachmentKind.DOCUMENT


def decode_form(body: bytes) -> MultiDict[str]:
    """The raw form, duplicate keys kept in order (what RequestValidator must see)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "form body is not UTF-8") from None
    try:
        return MultiDict(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:
        raise WebhookRejected(400, f"malformed form body: {exc}") from None


def parse_form(form: MultiDict[str]) -> InboundMessage:
    """One verified Twilio form → one normalised message; WebhookRejected(400) when it is not one."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not (0 < len(sid) <= 64 and sid.isascii() and sid.isalnum()):
        raise WebhookRejected(400, "MessageSid missing or malformed")
    sender = form.get("From", "")
    if not sender.startswith("whatsapp:") or len(sender) > 64:
        raise WebhookRejected(400, "From must be a whatsapp: address")
    try:
        num_media = int(form.get("NumMedia") or "0")
    except ValueError:
        raise WebhookRejected(400, "NumMedia must be an integer") from None
    if not 0 <= num_media <= MAX_INBOUND_MEDIA:
        raise WebhookRejected(400, f"NumMedia must be between 0 and {MAX_INBOUND_MEDIA}")
    attachments: list[Attachment] = []
    for i in range(num_media):
        url = form.get(f"MediaUrl{i}", "")
        if not url:
            raise WebhookRejected(400, f"MediaUrl{i} missing (NumMedia={num_media})")
        mime = (form.get(f"MediaContentType{i}") or "application/octet-stream").split(";")[0].strip()
        attachments.append(Attachment(kind_for(mime), mime, url))
    payload = form.get("ButtonPayload") or ""
    button_text = form.get("ButtonText") or ""
    is_button = bool(payload or button_text)
    text = (payload or button_text) if is_button else form.get("Body", "")
    extra: dict[str, Any] = {
        key: form[name]
        for key, name in (
            ("wa_id", "WaId"),
            ("to", "To"),
            ("message_type", "MessageType"),
            ("button_text", "ButtonText"),
            ("latitude", "Latitude"),
            ("longitude", "Longitude"),
        )
        if form.get(name)
    }
    if is_button and form.get("Body") and form.get("Body") != text:
        extra["body"] = form["Body"]
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_user_id=sender,
        provider_message_id=sid,
        text=text,
        sender_name=form.get("ProfileName") or None,
        attachments=attachments,
        reply_to=form.get("OriginalRepliedMessageSid") or None,
        is_button=is_button,
        extra=extra,
    )
