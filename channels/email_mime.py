"""Email as data in: one raw message → what a client wrote (trimmed for intent), who they are, its files.

Pure functions over the standard library's modern email API (`policy.default`), kept
apart from the IMAP/SMTP plumbing in channels/email.py so they can be read and tested
on their own; text decoding is channels/email_text.py, our outgoing mail channels/email_out.py.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import PurePosixPath, PureWindowsPath

from bot.messages import AttachmentKind
from channels.email_auth import SenderAuth, from_mailboxes, sender_auth
from channels.email_text import (
    MAX_TEXT_CHARS,
    TAG_RE,
    decode_bytes,
    header_text,
    html_to_text,
    raw_header,
    trim_quoted,
)

# ---- automatic mail: stored, never answered --------------------------------------------------------


def no_reply_reason(msg: EmailMessage) -> str | None:
    """Why this message must not be answered (auto-reply, bounce, list), or None for a person's mail."""
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"auto-submitted:{auto.split(';')[0]}"
    precedence = (msg.get("Precedence") or "").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"precedence:{precedence}"
    if msg.get("List-Id") or msg.get("List-Unsubscribe"):
        return "mailing-list"
    if msg.get_content_type() == "multipart/report":
        return "delivery-report"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return "auto-reply-header"
    mailboxes = from_mailboxes(msg)
    sender = mailboxes[0].address if mailboxes else ""
    local = sender.split("@")[0]
    if local in {"mailer-daemon", "postmaster"} or not sender:
        return "bounce-sender"
    if not msg.get("Return-Path", "x").strip("<> "):  # null envelope sender: a bounce (RFC 5321)
        return "null-return-path"
    return None


# ---- parsing one message ------------------------------------------------------------------------


@dataclass
class MailPart:
    """An attachment as it arrived (bytes decoded from its transfer encoding)."""

    kind: AttachmentKind
    mime: str
    filename: str | None
    data: bytes


@dataclass
class ParsedMail:
    message_id: str
    from_address: str
    from_name: str | None
    subject: str
    full_text: str
    text: str  # trimmed for intent
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    tag: str | None = None
    date: datetime | None = None
    no_reply: str | None = None
    sender: SenderAuth = field(default_factory=lambda: SenderAuth(False, "not checked"))
    parts: list[MailPart] = field(default_factory=list)

    def extra(self) -> dict[str, object]:
        data: dict[str, object] = {
            "subject": self.subject,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": self.references,
            "full_text": self.full_text,
        }
        if self.tag:
            data["tag"] = self.tag
        if self.no_reply:
            data["no_reply"] = True
            data["no_reply_reason"] = self.no_reply
        data["auth"] = self.sender.to_json()
        data["sender_authenticated"] = self.sender.authenticated
        return data


def _msgid_list(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _kind(mime: str, filename: str | None) -> AttachmentKind:
    name = (filename or "").lower()
    if mime.startswith("image/") or name.endswith((".jpg", ".jpeg", ".png", ".heic", ".gif", ".webp")):
        return AttachmentKind.PHOTO
    if mime.startswith("video/") or name.endswith((".mp4", ".mov", ".avi", ".3gp", ".mkv")):
        return AttachmentKind.VIDEO
    if mime.startswith("audio/"):
        return AttachmentKind.VOICE
    return AttachmentKind.DOCUMENT


def safe_filename(name: str | None) -> str | None:
    """Only a base name, never a path (the file is stored by its sha256 anyway)."""
    if not name:
        return None
    base = PureWindowsPath(PurePosixPath(name).name).name.strip().replace("\x00", "")
    return base[:200] or None


def _part_text(part: EmailMessage) -> str:
    data = part.get_payload(decode=True)
    return decode_bytes(data if isinstance(data, bytes) else b"", part.get_content_charset())


def _from(msg: EmailMessage) -> tuple[str, str]:
    """(display name, address): the address only from the parsed header, never a decoded name.

    The display name is taken from our own lenient decoding (GBK labelled GB2312) when it
    agrees on the address, else from the parsed header.
    """
    mailboxes = from_mailboxes(msg)
    if not mailboxes:
        return "", ""
    first = mailboxes[0]
    name, address = parseaddr(header_text(msg, "From"))
    return (name if address.strip().lower() == first.address else first.name), first.address


def _files(msg: EmailMessage, body_parts: set[int]) -> list[MailPart]:
    """Every part that is a file: not the body, not stray text, not an embedded mail's container."""
    parts: list[MailPart] = []
    for part in msg.walk():
        if part.is_multipart() or id(part) in body_parts:
            continue
        ctype = part.get_content_type()
        filename = safe_filename(part.get_filename())
        disposition = (part.get_content_disposition() or "").lower()
        if ctype.startswith("text/") and not filename and disposition != "attachment":
            continue  # stray text parts (a DSN's human part, an alternative) are not files
        if ctype.startswith("message/"):
            continue  # embedded mail (forwards, DSN details): its parts are walked on their own
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        parts.append(MailPart(_kind(ctype, filename), ctype, filename, data))
    return parts


def _date(msg: EmailMessage) -> datetime | None:
    try:
        date = parsedate_to_datetime(raw_header(msg, "Date") or "")
    except (TypeError, ValueError):
        return None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date


def parse_mail(raw: bytes, fallback_id: str = "", trusted_authserv_id: str = "") -> ParsedMail:
    """Raw RFC 822 bytes → what the engine needs; never raises on a badly encoded message.

    `trusted_authserv_id` names our receiving server (see channels/email_auth.py); empty means
    no sender is authenticated.
    """
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, address = _from(msg)
    subject = header_text(msg, "Subject")
    message_id = (_msgid_list(raw_header(msg, "Message-ID") or "") or [fallback_id])[0]
    body_part = msg.get_body(preferencelist=("plain", "html"))
    full_text = ""
    if body_part is not None:
        full_text = _part_text(body_part)  # type: ignore[arg-type]
        if body_part.get_content_type() == "text/html":
            full_text = html_to_text(full_text)
    body_parts = {id(body_part)}
    if body_part is not None:
        # Its alternative sibling (the HTML of a plain+HTML mail) is the same text, not an attachment.
        for part in msg.walk():
            if part.get_content_type() == "multipart/alternative":
                subparts = part.get_payload()
                if isinstance(subparts, list) and any(p is body_part for p in subparts):
                    body_parts |= {id(p) for p in subparts}
    parts = _files(msg, body_parts)
    in_reply_to = next(iter(_msgid_list(raw_header(msg, "In-Reply-To") or "")), None)
    tag_match = TAG_RE.search(subject)
    date = _date(msg)
    return ParsedMail(
        message_id=message_id,
        from_address=address.strip().lower(),
        from_name=name or None,
        subject=subject,
        full_text=full_text.strip()[:MAX_TEXT_CHARS],
        text=trim_quoted(full_text)[:MAX_TEXT_CHARS],
        in_reply_to=in_reply_to,
        references=_msgid_list(raw_header(msg, "References") or ""),
        tag=tag_match.group(1).upper() if tag_match else None,
        date=date,
        no_reply=no_reply_reason(msg),
        sender=sender_auth(msg, trusted_authserv_id),
        parts=parts,
    )


def unparseable(raw: bytes, fallback_id: str) -> ParsedMail:
    """Last resort for a message the parser chokes on: keep its bytes as text, never answer it."""
    head = raw[:65536].decode("utf-8", "replace")
    sender = re.search(r"^From:.*?([\w.+-]+@[\w.-]+)", head, re.MULTILINE | re.IGNORECASE)
    text = head.partition("\n\n")[2] or head
    return ParsedMail(
        message_id=fallback_id,
        from_address=sender.group(1).lower() if sender else "",
        from_name=None,
        subject="",
        full_text=text,
        text=text[:2000],
        no_reply="unparseable",
        sender=SenderAuth(False, "unparseable message"),
    )
