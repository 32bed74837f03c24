"""Building our mail: a threaded reply (or a new thread), plain text with an HTML alternative, files.

Marked as an automatic reply so out-of-office robots and list servers never answer it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses


def reply_subject(subject: str, tag: str | None) -> str:
    """ "Re: <subject>" once (not "Re: Re: …"), with the claim/escalation tag kept or added."""
    base = subject.strip() or "Your message"
    if not re.match(r"^(re|回复|回覆|回復|答复|答覆)\s*[:：]", base, re.IGNORECASE):
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
