"""Signed, expiring links to stored files (`GET /media/{token}`), for Twilio and staff.

A token is `<sha256>.<expiry>.<hmac>[.<name>]`; the HMAC covers the file, the expiry *and*
the name, so a link cannot be forged, extended or renamed (a name decides how a browser
treats a download). The key is derived from the admin token (or a per-process random key
when none is set).

The route is on the console's origin, so what it serves must never run there: every answer
carries `nosniff` and a sandboxing CSP, and only the passive types of bot.core.media_types, sniffed
from the stored bytes, are shown inline; everything else is a download.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path

from aiohttp import web

from bot.core.media_types import SNIFF_BYTES, content_disposition, sniff_inline

_TOKEN = re.compile(r"^([0-9a-f]{64})\.([0-9]{1,12})\.([0-9a-f]{32})(?:\.([\w.-]{1,100}))?$")
_UNSAFE_NAME = re.compile(r"[^\w.-]")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def safe_name(filename: str | None) -> str:
    """The name as it appears in (and is signed into) a link: word characters, dots and dashes."""
    return _UNSAFE_NAME.sub("_", filename)[:100] if filename else ""


EXPIRY_STEP = 300


class MediaLinks:
    def __init__(self, root: str | Path, public_url: str, key: str, ttl_seconds: int) -> None:
        self.root = Path(root)
        self.public_url = public_url.rstrip("/")
        self.key = hashlib.sha256(("media-links:" + (key or secrets.token_hex(16))).encode()).digest()
        self.ttl = ttl_seconds

    def _sig(self, sha: str, expires: int, name: str) -> str:
        # NUL separators: no choice of name can shift bytes into the expiry or the file id.
        message = f"media-v2\0{sha}\0{expires}\0{name}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def token(self, sha256: str, *, filename: str | None = None, now: float | None = None) -> str:
        # Rounded up to a 5-minute step: the same file gets the same link for a while (caches, and a
        # page and its API agree), and a link lives at least `ttl`.
        at = (time.time() if now is None else now) + self.ttl
        expires = int(-(-at // EXPIRY_STEP) * EXPIRY_STEP)
        name = safe_name(filename)
        tok = f"{sha256}.{expires}.{self._sig(sha256, expires, name)}"
        return f"{tok}.{name}" if name else tok

    def url(self, sha256: str, *, filename: str | None = None) -> str:
        return f"{self.public_url}/media/{self.token(sha256, filename=filename)}"

    def resolve(self, token: str, *, now: float | None = None) -> tuple[Path, str | None] | None:
        """The stored file and its signed name, or None for anything forged, renamed, expired or missing."""
        m = _TOKEN.match(token)
        if not m:
            return None
        sha, expires, sig, name = m.group(1), int(m.group(2)), m.group(3), m.group(4) or ""
        if not hmac.compare_digest(sig, self._sig(sha, expires, name)):
            return None
        if expires < (time.time() if now is None else now):
            return None
        path = self.root / sha[:2] / sha
        return (path, name or None) if path.is_file() else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = self.resolve(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound(
                text='{"error": "no such media or link expired"}',
                content_type="application/json",
                headers=SECURITY_HEADERS,
            )
        path, filename = found
        with path.open("rb") as fh:
            inline = sniff_inline(fh.read(SNIFF_BYTES))
        headers = {
            **SECURITY_HEADERS,
            "Content-Type": inline or "application/octet-stream",
            "Content-Disposition": content_disposition("inline" if inline else "attachment", filename),
            "Cache-Control": "private, max-age=300",
        }
        return web.FileResponse(path, headers=headers)
