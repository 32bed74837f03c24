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

from channels.email_auth import SenderAuth, from_mailboxes, sender_auth
from channels.email_parts import Forward, MailPart, safe_filename, unescape, walk
from channels.email_text import MAX_TEXT_CHARS, TAG_RE, header_text, raw_header, trim_quoted

__all__ = ["MailPart", "ParsedMail", "no_reply_reason", "parse_mail", "safe_filename", "unparseable"]

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
    forwards: list[Forward] = field(default_factory=list)

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
        if self.forwards:
            data["forwarded"] = [{"from": f.sender, "subject": f.subject} for f in self.forwards]
        if not self.from_address:
            data["needs_staff"] = "no usable From address: stored, answered to nobody"
        data["auth"] = self.sender.to_json()
        data["sender_authenticated"] = self.sender.authenticated
        return data


def _msgid_list(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


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
    name = name if address.strip().lower() == first.address else first.name
    return unescape(name), unescape(first.address)  # RFC 6532: raw UTF-8 in the header


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
    repaired = repair_headers(raw)
    msg = email.message_from_bytes(repaired, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, address = _from(msg)
    subject = header_text(msg, "Subject")
    message_id = unescape((_msgid_list(raw_header(msg, "Message-ID") or "") or [fallback_id])[0])
    walked = walk(msg, _charset_hint(msg))
    own = "\n\n".join(t.strip() for t in walked.texts if t.strip())
    full_text = "\n\n".join([own, *(_forward_block(f, whole=True) for f in walked.forwards)]).strip()
    text = "\n\n".join([trim_quoted(own), *(_forward_block(f) for f in walked.forwards)]).strip()
    parts = walked.files
    in_reply_to = next(iter(_msgid_list(raw_header(msg, "In-Reply-To") or "")), None)
    tag_match = TAG_RE.search(subject)
    date = _date(msg)
    return ParsedMail(
        message_id=message_id,
        from_address=address.strip().lower(),
        from_name=name or None,
        subject=subject,
        full_text=full_text[:MAX_TEXT_CHARS],
        text=text[:MAX_TEXT_CHARS],
        in_reply_to=in_reply_to,
        references=_msgid_list(raw_header(msg, "References") or ""),
        tag=tag_match.group(1).upper() if tag_match else None,
        date=date,
        no_reply=no_reply_reason(msg),
        sender=_sender(msg, trusted_authserv_id, repaired is not raw),
        parts=parts,
        forwards=walked.forwards,
    )


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def repair_headers(raw: bytes) -> bytes:
    """A stray line between headers (an unindented fold) is joined to the header above it.

    The parser otherwise takes it as the end of the headers, and every header below it
    (From, Message-ID, the MIME structure) becomes body text.
    """
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    lines = head.split(b"\n")
    if not lines or not _HEADER_LINE.match(lines[0]):
        return raw
    headers_below = [i for i, line in enumerate(lines) if _HEADER_LINE.match(line)]
    fixed = [
        b" " + line if i < headers_below[-1] and line.strip() and not line[:1].isspace()
        and not _HEADER_LINE.match(line) else line
        for i, line in enumerate(lines)
    ]  # fmt: skip
    return raw if fixed == lines else b"\n".join(fixed) + raw[len(head) :]


def _sender(msg: EmailMessage, trusted_authserv_id: str, repaired: bool) -> SenderAuth:
    """A repaired header section is never authenticated: the stray line could have been joined to
    our own server's Authentication-Results, and that server may have read the headers otherwise."""
    if repaired:
        return SenderAuth(False, "malformed header section (repaired to read it)")
    return sender_auth(msg, trusted_authserv_id)


def _charset_hint(msg: EmailMessage) -> str | None:
    """The charset the sender's client writes in: the first text part's label (for raw 8-bit names)."""
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_charset():
            return part.get_content_charset()
    return None


def _forward_block(forward: Forward, *, whole: bool = False) -> str:
    """How a forwarded mail reads inside the message staff see (never cut as quoted history)."""
    head = f"[Forwarded mail] From: {forward.sender or '?'} | Subject: {forward.subject or '-'}"
    return f"{head}\n{forward.text if whole else trim_quoted(forward.text)}".strip()


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
