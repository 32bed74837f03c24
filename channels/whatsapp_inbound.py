"""The inbound Twilio form: what it is (a client's message, a status report, our own echo) and its parsing.

Twilio posts two kinds of form: a message (SmsStatus `received`, From the client) and a
status report for one of our sends (any other MessageStatus/SmsStatus, usually From our
number, sometimes with a Body or a client's address in From). A status callback
that reaches the inbound URL — a console misconfiguration, or a StatusCallback pointing at
the wrong path — must never become an empty "client message" answered with the menu, and
neither may anything sent From our own number (a sandbox loop, another bot on the number).
Nor may a form with no Body, file or location at all (integrations post such probes). All
are answered 200 with empty TwiML and store nothing; a status report is still applied to the
delivery state of the message it names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from multidict import MultiDict

from bot.messages import Channel, InboundMessage
from bot.ports import OutboundIds, WebhookRejected
from channels.whatsapp_form import (
    extra_of,
    full_text,
    has_content,
    location_of,
    media_of,
    message_sid,
    text_and_button,
    valid_sender,
    valid_sid,
)

log = logging.getLogger(__name__)

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
    "partially_delivered": "sent",
}


def bare_number(address: str) -> str:
    """`whatsapp:+49 170…` and `+49170…` name the same number: compare digits only."""
    return "".join(ch for ch in address.removeprefix("whatsapp:") if ch.isdigit())


def status_of(form: MultiDict[str]) -> str | None:
    """The report's status when the form is a status callback rather than a message, else None.

    A client's message says `received` (or `receiving`); any other MessageStatus/SmsStatus is a
    report on one of our sends, whatever else the form carries (a Body, a client's From).
    """
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status or status in INBOUND_STATES:
        return None
    return status


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
        sid = message_sid(form)
        status = status_of(form)
        if status is not None:
            if sid and status in STATUS_MAP and self.on_status is not None:
                code = error_code_of(form)  # the adapter knows Twilio's codes; delivery decides
                closed = code == WINDOW_CLOSED
                await self.on_status(str(Channel.WHATSAPP), sid, STATUS_MAP[status], code, closed)
            return f"status callback ({status}) posted to the inbound URL"
        if not has_content(form):
            return "a form with no Body, file or location"
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
    # NUL is valid in a form but not in PostgreSQL text or JSON: gone before anything is kept.
    form = MultiDict((k.replace("\x00", ""), v.replace("\x00", "")) for k, v in form.items())
    sid = message_sid(form)
    if not valid_sid(sid):
        raise WebhookRejected(400, "MessageSid missing or malformed")
    sender = form.get("From", "")
    if not valid_sender(sender):
        raise WebhookRejected(400, "From missing or malformed")
    attachments = media_of(form)
    place = location_of(form)
    words, is_button = text_and_button(form)
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_user_id=sender,
        provider_message_id=sid,
        text=full_text(words, place, attachments),
        sender_name=form.get("ProfileName") or None,
        attachments=attachments,
        reply_to=form.get("OriginalRepliedMessageSid") or None,
        is_button=is_button,
        extra=extra_of(form, place),
    )
