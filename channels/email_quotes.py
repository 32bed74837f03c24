"""What the client wrote this time: quoted history, forwarded headers and signatures cut off.

Mail clients mark history in two ways. Outlook (every language) and Foxmail put a separator
or a header block (`-----Original Message-----`, `-----邮件原件-----`, `-----原始郵件-----`,
`发件人: … 发送时间: …`, `寄件者: … 寄件日期: …`) above unmarked old text: everything from
there on is history. Gmail, Apple Mail, Thunderbird and QQ Mail write an attribution
(`On … wrote:`, `在 … 写道：`, `Am … schrieb …:`) above `>`-quoted lines; the client may
answer *between* those lines, so only the quoted lines are dropped and the answers kept.
Used for intent detection; the full text is kept alongside.
"""

from __future__ import annotations

import re

_WORDS = (
    r"Original Message|Forwarded message|Reply message|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original|原始邮件|原邮件|邮件原件|原始郵件|原始信件|原始訊息|郵件原件|转发邮件|轉寄郵件|"
    r"轉寄的郵件|转发的邮件"
)
# Unmarked history starts here: nothing below is this message's own text.
_HISTORY = [
    re.compile(rf"^[-_=*\s]*({_WORDS})[-_=*\s]*$", re.IGNORECASE),
    re.compile(rf"^-{{2,}}\s*({_WORDS})", re.IGNORECASE),
    re.compile(r"^_{8,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^(发件人|寄件者|發件人|發信人)\s*[:：]"),  # zh-CN / zh-TW Outlook, Foxmail, NetEase
]
_SIGNATURE = [
    re.compile(r"^-- ?$"),  # the signature separator (RFC 3676 "-- ")
    re.compile(
        r"^(Sent from my [^,.;]{1,40}$|Get Outlook for |Von meinem .* gesendet|"
        r"发自我的|从我的 ?i(Phone|Pad) ?发送|寄自我的|從我的 ?i(Phone|Pad) ?傳送)",
        re.IGNORECASE,
    ),
]
# An attribution above `>` quotes (one line, or wrapped over two or three).
_ATTRIBUTION = [
    re.compile(r"^On\b.{4,300}\bwrote\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^.{0,300}(写道|寫道|寫了|来信|來信)\s*[:：]\s*$", re.DOTALL),
    re.compile(r"^Am\b.{4,300}\bschrieb\b.{0,200}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^Le\b.{4,300}\ba écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^El\b.{4,300}\bescribió\s*:\s*$", re.IGNORECASE | re.DOTALL),
]
_WRAPS = re.compile(r"^((On|Am|Le|El)\b|在|\d)", re.IGNORECASE)
_FROM_LINE = re.compile(r"^(From|Von|De|Van)\s*[:：]", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"^(From|Sent|Date|To|Cc|Subject|Von|Gesendet|An|Betreff|De|Envoyé|À|Objet|"
    r"发送时间|收件人|抄送|主题|日期|寄件日期|收件者|副本|主旨)\s*[:：]",
    re.IGNORECASE,
)


def _stripped(line: str) -> str:
    return line.strip().lstrip("*").strip()  # Outlook's HTML bold survives as *From:* in text


def _history_at(lines: list[str], i: int) -> bool:
    line = _stripped(lines[i])
    if any(p.match(line) for p in _HISTORY + _SIGNATURE):
        return True
    if _FROM_LINE.match(line):  # an English/German/French header block: From + two more headers
        following = [_stripped(x) for x in lines[i + 1 : i + 6] if x.strip()]
        return sum(1 for x in following[:4] if _HEADER_LINE.match(x)) >= 2
    return False


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines the attribution starting at line i spans (0: none)."""
    first = lines[i].strip()
    for span in (1, 2, 3):
        if span > 1 and not _WRAPS.match(first):
            return 0  # only a line that starts like an attribution may be wrapped onto the next
        joined = " ".join(x.strip() for x in lines[i : i + span])
        if any(p.match(joined) for p in _ATTRIBUTION) or _any_language(joined, lines[i + span :]):
            return span
    return 0


def _any_language(joined: str, rest: list[str]) -> bool:
    """Any client's attribution: a line naming an address or a date, ending in ':', right above quotes."""
    if not re.search(r"[:：]\s*$", joined) or not re.search(r"@|\d{1,4}[./年-]\d{1,2}", joined):
        return False
    following = next((x for x in rest if x.strip()), "")
    return len(joined) < 300 and following.lstrip().startswith(">")


def _interleaved(rest: list[str]) -> bool:
    """Whether the client answered below or between the quoted lines (text after a `>` line)."""
    seen_quote = False
    for j, line in enumerate(rest):
        if _history_at(rest, j):
            return False
        if line.lstrip().startswith(">"):
            seen_quote = True
        elif line.strip():
            if not seen_quote:
                return False  # unmarked old text right below the attribution: all of it is history
            return True
    return False


def trim_quoted(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if _history_at(lines, i):
            break
        span = _attribution_at(lines, i) if lines[i].strip() else 0
        if span:
            if not _interleaved(lines[i + span :]):
                break
            i += span
            continue
        if not lines[i].lstrip().startswith(">"):
            kept.append(lines[i].rstrip())
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
