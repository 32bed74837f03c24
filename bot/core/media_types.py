"""Which stored files a browser may render, decided from the bytes we hold, never from a name.

`/media` is served from the console's origin, so anything a browser would run there (HTML,
SVG, XML, …) must never be rendered inline. Only a few passive types are; their Content-Type
comes from the file's magic numbers, because the name (and an email part's declared type) is
whatever the sender chose.
"""

from __future__ import annotations

import re
from urllib.parse import quote

INLINE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4", "application/pdf"}
)
SNIFF_BYTES = 16

# ISO base-media brands that are MP4 video; QuickTime ("qt  ") and HEIF/AVIF images are not.
_MP4_BRANDS = frozenset(b"isom iso2 iso4 iso5 iso6 mp41 mp42 avc1 dash mmp4 MSNV".split()) | {b"M4V "}


def sniff_inline(head: bytes) -> str | None:
    """The allow-listed type whose signature `head` (the file's first bytes) starts with, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def content_disposition(kind: str, filename: str | None) -> str:
    """`inline`/`attachment` and the name: an ASCII `filename`, and RFC 6266 `filename*` when needed."""
    if not filename:
        return kind
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    if fallback == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
