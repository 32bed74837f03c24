"""Email as data: MIME in (what a client wrote, trimmed for intent), MIME out (a threaded reply).

Pure functions over the standard library's modern email API (`policy.default`), kept
apart from the IMAP/SMTP plumbing in channels/email.py so they can be read and tested
on their own. Chinese mail clients still send GB2312/GBK bodies and RFC 2047 subjects
whose declared charset is narrower than the bytes they carry; every such label is read
as GB18030 (a superset), never with `errors="strict"` dropping the message.
"""

from __future__ import annotations

import email
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath

from bot.messages import AttachmentKind
from channels.email_auth import SenderAuth, from_mailboxes, sender_auth

# Declared charset → the codec that actually decodes what such clients send.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}

# A mail body is kept whole up to this many characters (the rest of a 20 MB newsletter is noise).
MAX_TEXT_CHARS = 200_000

TAG_RE = re.compile(r"\[((?:CLM|ESC)-[0-9][0-9-]*)\]", re.IGNORECASE)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset → text; a wrong or missing label falls back, never raises."""
    label = (charset or "").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    for codec in [c for c in (label, "utf-8", "gb18030") if c]:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def decode_header_value(raw: str | None) -> str:
    """RFC 2047 words (any charset, GBK labelled GB2312 included) and raw 8-bit headers → text."""
    if not raw:
        return ""
    if any("\udc80" <= ch <= "\udcff" for ch in raw):  # 8-bit bytes smuggled in by surrogateescape
        raw = decode_bytes(raw.encode("ascii", "surrogateescape"), None)
    try:
        parts = decode_header(raw)
    except Exception:
        return " ".join(raw.split())
    out: list[str] = []
    for value, charset in parts:
        out.append(decode_bytes(value, charset) if isinstance(value, bytes) else value)
    return " ".join("".join(out).split())


def raw_header(msg: EmailMessage, name: str) -> str | None:
    """The header as it was on the wire (folded lines joined), before policy decoding."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return re.sub(r"\r?\n[ \t]+", " ", str(value))
    return None


def header_text(msg: EmailMessage, name: str) -> str:
    return decode_header_value(raw_header(msg, name))


# ---- HTML → text --------------------------------------------------------------------------------

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"}


class _TextExtractor(HTMLParser):
    """Visible text with line breaks at block elements; <blockquote> content marked as "> " quotes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skip = 0
        self.quote = 0

    def _newline(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if tag in {"script", "style", "head", "title"}:
            self.skip += 1
        elif tag == "blockquote" or "gmail_quote" in classes:
            self._newline()
            self.quote += 1
        elif tag in _BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "title"}:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self._newline()
            self.quote = max(0, self.quote - 1)
        elif tag in _BLOCK:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data)
        if not text.strip() and not self.lines[-1]:
            return
        if self.quote and not self.lines[-1]:
            self.lines[-1] = "> "
            text = text.lstrip()
        self.lines[-1] += text


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() if not line.startswith("> ") else line.rstrip() for line in parser.lines]
    return "\n".join(lines).strip()


# ---- quoted history and signatures --------------------------------------------------------------

_CUT_LINE = [
    re.compile(r"^-{2,}\s*(Original Message|Forwarded message|原始邮件|原邮件)\s*-{2,}", re.IGNORECASE),
    re.compile(r"^_{8,}\s*$"),  # Outlook's separator above the quoted header block
    re.compile(r"^.{0,200}(写道|寫道)\s*[:：]\s*$"),  # 在…写道： (Apple, QQ), …于…写道： (Gmail)
    re.compile(r"^(发件人|寄件者|發件人)\s*[:：]"),
    re.compile(r"^-- ?$"),  # the signature separator (RFC 3676 "-- ")
    re.compile(r"^(Sent from my |Get Outlook for |发自我的|从我的 ?i(Phone|Pad) ?发送)", re.IGNORECASE),
]
_ON_WROTE = re.compile(r"^On\b.{4,200}\bwrote\s*:\s*$", re.IGNORECASE | re.DOTALL)
_HEADER_BLOCK = re.compile(
    r"^(From|Sent|Date|To|Cc|Subject|发送时间|收件人|抄送|主题|日期)\s*[:：]", re.IGNORECASE
)


def trim_quoted(text: str) -> str:
    """What the client wrote this time: quoted history, forwarded headers and signatures cut off.

    Used for intent detection only; the full text is kept alongside.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if any(p.match(stripped) for p in _CUT_LINE):
            break
        joined = " ".join(x.strip() for x in lines[i : i + 3])
        if stripped.lower().startswith("on ") and _ON_WROTE.match(
            " ".join(x.strip() for x in lines[i : i + 2])
        ):
            break
        if _ON_WROTE.match(stripped) or (stripped.lower().startswith("on ") and _ON_WROTE.match(joined)):
            break
        if re.match(r"^From\s*:", stripped, re.IGNORECASE):
            following = [x.strip() for x in lines[i + 1 : i + 5] if x.strip()]
            if sum(1 for x in following if _HEADER_BLOCK.match(x)) >= 2:
                break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


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
    in_reply_to = next(iter(_msgid_list(raw_header(msg, "In-Reply-To") or "")), None)
    tag_match = TAG_RE.search(subject)
    date = None
    try:
        date = parsedate_to_datetime(raw_header(msg, "Date") or "")
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        date = None
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


# ---- building a reply ---------------------------------------------------------------------------


def reply_subject(subject: str, tag: str | None) -> str:
    """ "Re: <subject>" once (not "Re: Re: …"), with the claim/escalation tag kept or added."""
    base = subject.strip() or "Your message"
    if not re.match(r"^(re|回复|答复)\s*[:：]", base, re.IGNORECASE):
        base = f"Re: {base}"
    if tag and f"[{tag}]".lower() not in base.lower():
        base = f"{base} [{tag}]"
    return base


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


@dataclass
class OutgoingFile:
    mime: str
    filename: str
    data: bytes


def build_mail(
    *,
    from_address: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    files: list[OutgoingFile] | None = None,
    when: datetime | None = None,
) -> EmailMessage:
    """Plain text + a simple HTML alternative, files attached, marked as an automatic reply."""
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when or datetime.now(UTC))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join(dict.fromkeys([*(references or []), in_reply_to]))
    # RFC 3834: this is a machine's reply, so other machines (out-of-office, list servers) must not
    # answer it; Microsoft's header asks Exchange for the same. Together they prevent mail loops.
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text or " ")
    msg.add_alternative(text_to_html(text or ""), subtype="html")
    for f in files or []:
        maintype, _, subtype = f.mime.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(f.data, maintype=maintype, subtype=subtype, filename=f.filename)
    return msg


def recipients(msg: EmailMessage) -> list[str]:
    return [a for _, a in getaddresses([str(v) for v in msg.get_all("To", [])]) if a]
