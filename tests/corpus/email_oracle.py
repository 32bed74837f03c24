"""What a person reading a raw mail expects the product to keep: the independent side of the judge.

Written from the standard library (`email` with `policy.default`) and plain reading of the
raw headers, never from the product's parser: the sender is the From header's first
addr-spec, the dedup id its Message-ID, the text every inline text part a mail client
would show (forwarded mails' included), the files every other leaf part plus one `.eml`
per forwarded mail. Attachment names are read from the raw parameters, so an unquoted
encoded-word or an unquoted name with spaces is expected decoded and whole.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from html.parser import HTMLParser

# Parts that describe a delivery, not something a person attached.
_REPORT_TYPES = {
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
    "message/global-delivery-status",
    "message/global-headers",
}


@dataclass
class Expect:
    sender: str | None  # the address replies go to, None for a mail without a usable From
    message_id: str | None  # the first <…> of Message-ID, None when it has none
    texts: list[str] = field(default_factory=list)  # what a reader sees, part by part, in order
    files: list[str | None] = field(default_factory=list)  # each file's name as the raw headers give it
    names: list[set[str]] = field(default_factory=list)  # per file, every fair reading of raw 8-bit names
    forwarded: int = 0  # message/rfc822 parts, each expected as one .eml file
    automatic: bool = False  # an auto-reply, bounce or list mail: must never be answered
    broken_multipart: bool = False


def _decode_words(value: str) -> str:
    try:
        out = []
        for chunk, charset in decode_header(value):
            if isinstance(chunk, bytes):
                out.append(
                    chunk.decode(charset or "utf-8", "replace")
                    if _known(charset)
                    else chunk.decode("utf-8", "replace")
                )
            else:
                out.append(chunk)
        return "".join(out)
    except Exception:
        return value


# The WHATWG Encoding Standard's reading of labels mail clients get wrong (what browsers do too).
_WHATWG = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "chinese": "gb18030", "csgb2312": "gb18030",
    "iso-ir-58": "gb18030", "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932",
    "sjis": "cp932", "windows-31j": "cp932", "big5": "big5hkscs", "iso-8859-1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "latin1": "cp1252", "iso-2022-jp": "iso2022_jp_ext",
}  # fmt: skip


def charset_of(part: Message) -> str:
    label = (part.get_content_charset() or "utf-8").lower()
    label = _WHATWG.get(label, label)
    return label if _known(label) else "utf-8"


def _known(charset: str | None) -> bool:
    import codecs

    try:
        codecs.lookup(charset or "utf-8")
    except LookupError:
        return False
    return True


def readings(name: str) -> set[str]:
    """A name with raw 8-bit bytes (surrogate-escaped) read as UTF-8, GB18030 or Latin-1: any is fair."""
    if not any("\udc80" <= ch <= "\udcff" for ch in name):
        return {name}
    data = name.encode("utf-8", "surrogateescape")
    out = {data.decode("utf-8", "replace")}
    for codec in ("utf-8", "gb18030", "cp1252", "latin-1", "koi8-r", "cp1251"):
        try:
            out.add(data.decode(codec))
        except UnicodeDecodeError:
            continue
    return out


def _raw(part: Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name.lower():
            return re.sub(r"\r?\n[ \t]+", " ", str(value))
    return ""


def filename_of(part: Message) -> str | None:
    """The name a mail client shows: RFC 2231 via the library, else the raw (un)quoted parameter."""
    for header, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        raw = _raw(part, header)
        if re.search(rf"\b{param}\*(\d+\*?)?\s*=", raw, re.I):
            try:
                name = part.get_filename() if param == "filename" else part.get_param("name", header=header)
            except Exception:
                name = None
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
            if name:
                return str(name)
        found = re.search(rf'(?:^|;)\s*{param}\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', raw, re.I)
        if found:
            value = found.group(1).strip()
            if value.startswith('"'):
                value = value[1:-1].replace('\\"', '"')
            value = _decode_words(value.strip())
            if value:
                return value
    return None


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in {"script", "style", "head", "title"}:
            self.skip += 1
        self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "title"}:
            self.skip = max(0, self.skip - 1)
        self.out.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_text(markup: str) -> str:
    parser = _Html()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)


def _content(part: Message) -> str:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        for codec in (charset_of(part), "utf-8"):  # a lying label over valid UTF-8 reads as UTF-8
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
        return data.decode(charset_of(part), "replace")
    return str(part.get_payload())


def _is_attachment(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"


def _walk(part: Message, exp: Expect, read: bool = True) -> None:
    """`read` False: an alternative not shown (its text is the shown one's), only its files count."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        exp.forwarded += 1
        inner = part.get_payload()
        for sub in inner if isinstance(inner, list) else []:
            _walk(sub, exp, read)
        return
    if part.is_multipart():
        children = part.get_payload()
        assert isinstance(children, list)
        if ctype == "multipart/alternative" and children:
            plain = [c for c in children if c.get_content_type() == "text/plain"]
            shown = plain[0] if plain else children[-1]
            for child in children:
                _walk(child, exp, read and child is shown)
            return
        for child in children:
            _walk(child, exp, read)
        return
    if ctype in _REPORT_TYPES:
        return
    name = filename_of(part)
    if part.get_content_maintype() == "text" and not name and not _is_attachment(part):
        if not read:
            return
        text = _content(part)
        exp.texts.append(html_text(text) if ctype == "text/html" else text)
        return
    if ctype.startswith("multipart/"):  # a multipart whose boundary is gone: read it by hand
        exp.broken_multipart = True
        _recover(str(part.get_payload()), exp, read)
        return
    exp.files.append(name)
    exp.names.append(readings(name) if name else set())


def _recover(body: str, exp: Expect, read: bool) -> None:
    """A multipart without a usable boundary: its text parts are the chunks between '--' lines."""
    chunks = [c for c in re.split(r"(?m)^--\S*\s*$", body) if c.strip()]
    for chunk in chunks:
        sub = email.message_from_string(chunk.lstrip("\r\n"), policy=policy.default)
        if sub.keys():
            _walk(sub, exp, read)
    if not any(email.message_from_string(c.lstrip("\r\n")).keys() for c in chunks) and read:
        exp.texts.append(body)


def _sender(msg: EmailMessage) -> str | None:
    try:
        header = msg["From"]
        for addr in getattr(header, "addresses", ()):
            if addr.username and addr.domain:  # RFC 6532 allows UTF-8 addresses
                spec = str(addr.addr_spec).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                return spec.lower()
    except Exception:
        return None
    return None


def _automatic(msg: EmailMessage, sender: str | None) -> bool:
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    precedence = (msg.get("Precedence") or "").strip().lower()
    local = (sender or "").split("@")[0]
    return bool(
        (auto and auto != "no")
        or precedence in {"bulk", "junk", "list", "auto_reply"}
        or msg.get("List-Id")
        or msg.get("List-Unsubscribe")
        or msg.get_content_type() == "multipart/report"
        or local in {"mailer-daemon", "postmaster"}
    )


def lenient(raw: bytes) -> bytes:
    """A stray non-header line among the headers is dropped, as mail clients read past it."""
    end = re.search(rb"\r?\n\r?\n", raw)
    if not end:
        return raw
    lines = raw[: end.start()].split(b"\n")
    if not re.match(rb"^[\w-]+:", lines[0]):
        return raw
    last = max(i for i, line in enumerate(lines) if re.match(rb"^[\w-]+:", line))
    kept = [x for i, x in enumerate(lines) if i > last or re.match(rb"^([\w-]+:|[ \t])", x)]
    return b"\n".join(kept) + raw[end.start() :]


def expect(raw: bytes) -> Expect:
    raw = lenient(raw)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    found = re.search(r"(?im)^Message-ID[ \t]*:(.*(?:\r?\n[ \t].*)*)", head)
    mid = re.search(r"<[^<>\s]+>", found.group(1)) if found else None
    sender = _sender(msg)
    exp = Expect(sender, mid.group(0) if mid else None, automatic=_automatic(msg, sender) or not sender)
    _walk(msg, exp)
    return exp


def words(text: str, limit: int = 40) -> list[str]:
    """Tokens a reader would look for: words of 3+ characters from the start of the text, quotes left out."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return re.findall(r"\w{3,}", " ".join(lines)[:1500].lower())[:limit]


def flat(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
