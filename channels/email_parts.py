"""Walking a mail's MIME tree the way a mail client shows it: the texts in order, the files, the forwards.

`EmailMessage.get_body` picks one text part, which loses Apple Mail's text–image–text bodies,
a bounce's human part next to the returned mail, and everything of a mail whose boundary is
broken (the parser then hands the whole container over as one text blob, which used to be
stored as a file). Here every shown text part is kept in order, a multipart without a
usable boundary is read by hand, a forwarded mail (`message/rfc822`) becomes an `.eml`
file plus its sender, subject and text, and attachment names are read from the raw
parameters (unquoted encoded-words, unquoted names with spaces, raw 8-bit names).
"""

from __future__ import annotations

import email
import email.utils
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import Message

from bot.messages import AttachmentKind
from channels.email_text import decode_bytes, html_to_text, raw_header

# Parts that describe a delivery (DSN/MDN/ARF details), not something a person attached.
REPORT_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "message/global-delivery-status",
        "message/global-disposition-notification",
        "message/global-headers",
        "text/rfc822-headers",
    }
)
MAX_DEPTH = 12  # forwards of forwards: deeper nesting is not a person's mail
MAX_PARTS = 500


@dataclass
class MailPart:
    """An attachment as it arrived (bytes decoded from its transfer encoding)."""

    kind: AttachmentKind
    mime: str
    filename: str | None
    data: bytes


@dataclass
class Forward:
    """A mail forwarded as an attachment: who wrote it, about what, and what it says."""

    sender: str
    subject: str
    text: str


@dataclass
class Walked:
    texts: list[str] = field(default_factory=list)
    files: list[MailPart] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)
    html_only: bool = True  # every shown text was HTML (its quotes were marked while converting)
    parts_seen: int = 0


def kind_of(mime: str, filename: str | None) -> AttachmentKind:
    name = (filename or "").lower()
    if mime.startswith("image/") or name.endswith((".jpg", ".jpeg", ".png", ".heic", ".gif", ".webp")):
        return AttachmentKind.PHOTO
    if mime.startswith("video/") or name.endswith((".mp4", ".mov", ".avi", ".3gp", ".mkv")):
        return AttachmentKind.VIDEO
    if mime.startswith("audio/"):
        return AttachmentKind.VOICE
    return AttachmentKind.DOCUMENT


def unescape(value: str, hint: str | None = None) -> str:
    """Raw 8-bit header bytes (kept by the parser as surrogates) → text in the likeliest charset."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    text = data.decode("utf-8", "replace")
    if text.count("\ufffd") <= max(1, len(text) // 50):  # UTF-8, perhaps cut off mid-character
        return text
    if hint and hint.lower() not in {"us-ascii", "ascii", "utf-8"}:
        return decode_bytes(data, hint)
    return data.decode("cp1252", "replace")


def decode_words(value: str, hint: str | None = None) -> str:
    """RFC 2047 words anywhere in a value, also where the standard forbids them (unquoted params)."""
    value = unescape(value, hint)
    if "=?" not in value:
        return value
    try:
        out = [
            decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk
            for chunk, charset in decode_header(value)
        ]
    except Exception:
        return value
    return "".join(out)


def safe_filename(name: str | None) -> str | None:
    """Only a base name, never a path (the file is stored by its sha256 anyway)."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "").strip()
    return base[:200] or None


def filename_of(part: Message, hint: str | None = None) -> str | None:
    """The name a mail client shows: RFC 2231 through the library, else the raw parameter, whole."""
    for header, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        raw = raw_header(part, header) or ""  # type: ignore[arg-type]
        if re.search(rf"(?:^|;)\s*{param}\*(\d+\*?)?\s*=", raw, re.IGNORECASE):
            try:
                found = part.get_param(param, header=header)
                name = email.utils.collapse_rfc2231_value(found) if found else None
            except Exception:
                name = None
            if name:
                return safe_filename(decode_words(str(name), hint))
        match = re.search(rf'(?:^|;)\s*{param}\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', raw, re.IGNORECASE)
        if match:
            value = match.group(1).strip()
            if value.startswith('"'):
                value = value[1:].removesuffix('"').replace('\\"', '"')
            name = safe_filename(decode_words(value.strip(), hint))
            if name:
                return name
    return None


def _content(part: Message) -> str:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return decode_bytes(data, part.get_content_charset())
    payload = part.get_payload()
    return unescape(payload) if isinstance(payload, str) else ""


def _shown_alternative(children: list[Message]) -> Message:
    """The alternative a reader is shown for intent: the plain text, else the richest (last)."""
    for child in children:
        if child.get_content_type() == "text/plain":
            return child
    for child in children:  # a plain part inside a related/mixed alternative
        if child.is_multipart() and any(p.get_content_type() == "text/plain" for p in child.walk()):
            return child
    return children[-1]


def walk(msg: Message, hint: str | None = None) -> Walked:
    out = Walked()
    _walk(msg, out, True, 0, hint)
    return out


def _walk(part: Message, out: Walked, read: bool, depth: int, hint: str | None) -> None:
    out.parts_seen += 1
    if depth > MAX_DEPTH or out.parts_seen > MAX_PARTS:
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822":  # (the parser also calls it multipart: its payload is one message)
        _forward(part, out, read, depth, hint)
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        shown = _shown_alternative(children) if ctype == "multipart/alternative" and children else None
        for child in children:
            _walk(child, out, read and (shown is None or child is shown), depth + 1, hint)
        return
    if ctype in REPORT_TYPES:
        return
    name = filename_of(part, hint)
    if ctype.startswith("multipart/"):  # declared multipart, but no boundary the parser could use
        _recover(part, out, read, depth, hint)
        return
    if part.get_content_maintype() == "text" and not name and part.get_content_disposition() != "attachment":
        if read:
            text = _content(part)
            html = ctype == "text/html"
            out.html_only = out.html_only and html
            out.texts.append(html_to_text(text) if html else text)
        return
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        out.files.append(MailPart(kind_of(ctype, name), ctype, name, data))


def _forward(part: Message, out: Walked, read: bool, depth: int, hint: str | None) -> None:
    """A mail inside a mail: kept whole as an .eml, its sender, subject and text brought out."""
    inner = part.get_payload()
    embedded = inner[0] if isinstance(inner, list) and inner else None
    if not isinstance(embedded, Message):
        return
    subject = decode_words(raw_header(embedded, "Subject") or "", hint)  # type: ignore[arg-type]
    sender = decode_words(raw_header(embedded, "From") or "", hint)  # type: ignore[arg-type]
    try:
        data = embedded.as_bytes(policy=policy.SMTP)
    except Exception:
        data = _content(part).encode("utf-8", "surrogateescape")
    name = filename_of(part, hint) or safe_filename(re.sub(r"[\\/:*?\"<>|\s]+", " ", subject).strip()[:80])
    name = name if (name or "").lower().endswith(".eml") else f"{name or 'forwarded'}.eml"
    out.files.append(MailPart(AttachmentKind.DOCUMENT, "message/rfc822", name, data))
    inner_walk = Walked()
    _walk(embedded, inner_walk, True, depth + 1, hint)
    out.files.extend(inner_walk.files)
    out.forwards.extend(inner_walk.forwards)
    text = "\n\n".join(t.strip() for t in inner_walk.texts if t.strip())
    out.forwards.insert(len(out.forwards) - len(inner_walk.forwards), Forward(sender, subject, text))
    if read:
        out.html_only = False


_BOUNDARY_LINE = re.compile(rb"(?m)^--[^\s]\S*[ \t]*\r?$")


def _recover(part: Message, out: Walked, read: bool, depth: int, hint: str | None) -> None:
    """A multipart whose boundary is missing or wrong: split on '--…' lines and read each chunk."""
    payload = part.get_payload(decode=True)
    body = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "replace")
    chunks = [c.lstrip(b"\r\n") for c in _BOUNDARY_LINE.split(body)]
    chunks = [c for c in chunks if c.strip()]
    found = False
    for chunk in chunks:
        sub = email.message_from_bytes(chunk, policy=policy.default)
        if not sub.keys():
            continue  # a preamble or epilogue, not a part
        found = True
        _walk(sub, out, read, depth + 1, hint)
    if not found and read:
        text = _BOUNDARY_LINE.sub(b"", body).decode("utf-8", "replace").strip()
        if text:
            out.html_only = False
            out.texts.append(text)
