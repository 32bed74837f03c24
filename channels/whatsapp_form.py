"""What a verified Twilio message form says: its id, sender, text, files, location, ad and button.

Twilio posts the same form for WhatsApp and SMS (`From` is `whatsapp:+…` or a bare number),
and integrations in the wild post subsets of it: `SmsSid` alone as the id, no `NumMedia`, a
location with no `Body`. Each is read for what it carries instead of being refused, so a
client's message is never answered with a 400 that Twilio drops. What the client typed
stays the text: a location, a shared contact or a button press adds to it, never replaces it.
"""

from __future__ import annotations

import re
from typing import Any

from multidict import MultiDict

from bot.messages import Attachment, AttachmentKind
from channels.whatsapp_vcard import PLACEHOLDER, VCARD_TYPES

MAX_INBOUND_MEDIA = 10  # Twilio sends at most 10 MediaUrl{N}
# Stored for a form whose Body is empty with no file or location (an unsupported WhatsApp type,
# a sticker Twilio did not pass on): staff see that the client sent something, not a blank row.
EMPTY_MESSAGE = "(empty message)"
SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Click-to-WhatsApp ad fields (Twilio's names) → the keys kept in extra["referral"].
REFERRAL_FIELDS = {
    "ReferralBody": "body",
    "ReferralHeadline": "headline",
    "ReferralSourceUrl": "source_url",
    "ReferralSourceId": "source_id",
    "ReferralSourceType": "source_type",
    "ReferralCtwaClid": "ctwa_clid",
    "ReferralMediaId": "media_id",
    "ReferralMediaUrl": "media_url",
    "ReferralMediaContentType": "media_content_type",
    "ReferralNumMedia": "num_media",
}
KEPT_FIELDS = {
    "WaId": "wa_id",
    "To": "to",
    "MessageType": "message_type",
    "ButtonText": "button_text",
    "ButtonPayload": "button_payload",
    "ProfileUsername": "profile_username",
    "ExternalUserId": "external_user_id",
}


def message_sid(form: MultiDict[str]) -> str:
    """Twilio's id for the message: MessageSid, or the older SmsMessageSid / SmsSid."""
    return form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""


def valid_sid(sid: str) -> bool:
    return SID.fullmatch(sid) is not None


def valid_sender(sender: str) -> bool:
    """`whatsapp:+…`, a WhatsApp user id (`whatsapp:IN.…`) or an SMS number: printable, no spaces."""
    return 0 < len(sender) <= 64 and sender.isprintable() and not any(ch.isspace() for ch in sender)


def kind_for(mime: str) -> AttachmentKind:
    if mime.startswith("image/"):
        return AttachmentKind.PHOTO
    if mime.startswith("video/"):
        return AttachmentKind.VIDEO
    if mime.startswith("audio/"):
        return AttachmentKind.VOICE
    return AttachmentKind.DOCUMENT


def media_of(form: MultiDict[str]) -> list[Attachment]:
    """Every MediaUrl{N} the form carries (NumMedia is a hint some senders leave out or get wrong)."""
    files = []
    for i in range(MAX_INBOUND_MEDIA):
        url = form.get(f"MediaUrl{i}", "")
        if url:
            mime = (form.get(f"MediaContentType{i}") or "application/octet-stream").split(";")[0].strip()
            name = "contact.vcf" if mime.lower() in VCARD_TYPES else None
            files.append(Attachment(kind_for(mime), mime, url, filename=name))
    return files


def has_content(form: MultiDict[str]) -> bool:
    """A message form has a Body (empty for a bare photo), a file or a location; a form with none is none."""
    return "Body" in form or bool(media_of(form)) or location_of(form) is not None


def location_of(form: MultiDict[str]) -> dict[str, str] | None:
    lat, lon = form.get("Latitude", "").strip(), form.get("Longitude", "").strip()
    if not (lat and lon):
        return None
    place = {"latitude": lat, "longitude": lon}
    place.update(
        {
            key: form[name].strip()
            for name, key in (("Label", "label"), ("Address", "address"))
            if form.get(name)
        }
    )
    return place


def location_text(place: dict[str, str]) -> str:
    """`📍 22.54, 114.05 — Futian Port, 1 Port Rd`: readable in the console and by staff."""
    where = ", ".join(v for v in (place.get("label"), place.get("address")) if v)
    return f"📍 {place['latitude']}, {place['longitude']}" + (f" — {where}" if where else "")


def referral_of(form: MultiDict[str]) -> dict[str, str]:
    """The ad a client came from; every ordinary message says ReferralNumMedia=0, which is no ad."""
    found = {key: form[name] for name, key in REFERRAL_FIELDS.items() if form.get(name)}
    if found.get("num_media") == "0":
        del found["num_media"]
    return found


def text_and_button(form: MultiDict[str]) -> tuple[str, bool]:
    """The client's words; a quick-reply tap (Body is the button's text) gives its payload instead."""
    body = (form.get("Body") or "").replace("\x00", "").strip()
    payload = (form.get("ButtonPayload") or "").strip()
    button = (form.get("ButtonText") or "").strip()
    if payload and (not body or body == button):
        return payload, True  # our own button's value ("menu:claim"); Body kept in extra
    if not body and button:
        return button, True
    return body, False


def extra_of(form: MultiDict[str], place: dict[str, str] | None) -> dict[str, Any]:
    extra: dict[str, Any] = {key: form[name] for name, key in KEPT_FIELDS.items() if form.get(name)}
    if form.get("Body"):
        extra["body"] = form["Body"].replace("\x00", "")
    if place is not None:
        extra["location"] = place
        extra["latitude"], extra["longitude"] = place["latitude"], place["longitude"]
    referral = referral_of(form)
    if referral:
        extra["referral"] = referral
    return extra


def full_text(words: str, place: dict[str, str] | None, files: list[Attachment]) -> str:
    """The text staff read: the client's words, then what the form adds (a location, a contact card)."""
    parts = [location_text(place)] if place is not None else []
    parts += [PLACEHOLDER for f in files if f.mime.lower() in VCARD_TYPES]  # read out after the fetch
    if words and words not in parts:
        parts.append(words)
    if not parts and not files:
        return EMPTY_MESSAGE
    return "\n".join(parts)
