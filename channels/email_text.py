"""Reading text out of mail: charsets that lie, RFC 2047 headers, HTML bodies, quoted history.

Pure functions over the standard library. Chinese mail clients still send GB2312/GBK
bodies and RFC 2047 subjects whose declared charset is narrower than the bytes they
carry; every such label is read as GB18030 (a superset), never with `errors="strict"`
dropping the message.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from channels.email_quotes import trim_quoted

__all__ = ["decode_bytes", "header_text", "html_to_text", "raw_header", "scrub", "trim_quoted"]

# Declared charset → the codec that actually decodes what such clients send.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",  # Hong Kong and Taiwan clients: Big5 with HKSCS/vendor additions
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}

# A mail body is kept whole up to this many characters (the rest of a 20 MB newsletter is noise).
MAX_TEXT_CHARS = 200_000

TAG_RE = re.compile(r"\[((?:CLM|ESC)-[0-9][0-9-]*)\]", re.IGNORECASE)


def scrub(value: Any) -> Any:
    """Lone surrogates (raw bytes no decoding claimed) replaced, in strings, lists and dicts alike.

    A database driver refuses such a string, and a message that can never be stored would
    block the mailbox behind it: whatever slipped through every decoder is made storable here.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


# Reply and forward prefixes of the mail clients our clients use (EN, zh-CN, zh-TW, DE, Nordic).
_REPLY_PREFIX = re.compile(
    r"^((re|fw|fwd|aw|wg|sv|vs|回复|回覆|回復|答复|答覆|转发|轉發|轉寄|转寄)\s*(\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def strip_reply_prefixes(subject: str) -> str:
    """`回复：答复: Re: 拉链` → `拉链`: what the subject is about, without the thread's prefixes."""
    return _REPLY_PREFIX.sub("", subject.strip()).strip()


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset → text; a wrong or missing label falls back, never raises.

    A UTF-8 body with a stray bad byte stays UTF-8 (one replacement character), rather than
    falling through to GB18030, which decodes almost any bytes and would garble all of it.
    """
    label = (charset or "").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    for codec in [c for c in (label, "utf-8") if c]:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    if label in {"", "utf-8", "utf8"} or not _known(label):
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") <= max(2, len(text) // 50):  # a stray byte or two, not another charset
            return text
    elif label != "gb18030":  # a real label with a few bad bytes: keep its reading of the rest
        return data.decode(label, errors="replace")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def _known(label: str) -> bool:
    try:
        codecs.lookup(label)
    except LookupError:
        return False
    return True


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
