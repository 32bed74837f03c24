"""Signed, expiring links to stored files (`GET /media/{token}`), for Twilio and staff.

A token is `<sha256>.<expiry>.<hmac>`; the HMAC key is derived from the admin token
(or a per-process random key when none is set), so links cannot be forged or extended.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import secrets
import time
from pathlib import Path

from aiohttp import web

_TOKEN = re.compile(r"^([0-9a-f]{64})\.(\d{1,12})\.([0-9a-f]{32})(?:\.([\w.-]{1,100}))?$")


class MediaLinks:
    def __init__(self, root: str | Path, public_url: str, key: str, ttl_seconds: int) -> None:
        self.root = Path(root)
        self.public_url = public_url.rstrip("/")
        self.key = hashlib.sha256(("media-links:" + (key or secrets.token_hex(16))).encode()).digest()
        self.ttl = ttl_seconds

    def _sig(self, sha: str, expires: int) -> str:
        return hmac.new(self.key, f"{sha}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def token(self, sha256: str, *, filename: str | None = None, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.ttl)
        tok = f"{sha256}.{expires}.{self._sig(sha256, expires)}"
        if filename:
            tok += "." + re.sub(r"[^\w.-]", "_", filename)[:100]
        return tok

    def url(self, sha256: str, *, filename: str | None = None) -> str:
        return f"{self.public_url}/media/{self.token(sha256, filename=filename)}"

    def resolve(self, token: str, *, now: float | None = None) -> tuple[Path, str | None] | None:
        m = _TOKEN.match(token)
        if not m:
            return None
        sha, expires, sig, filename = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if not hmac.compare_digest(sig, self._sig(sha, expires)) or expires < (now or time.time()):
            return None
        path = self.root / sha[:2] / sha
        return (path, filename) if path.is_file() else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = self.resolve(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound(
                text='{"error": "no such media or link expired"}', content_type="application/json"
            )
        path, filename = found
        ctype = (mimetypes.guess_type(filename)[0] if filename else None) or "application/octet-stream"
        headers = {"Content-Type": ctype, "Cache-Control": "private, max-age=300"}
        if filename:
            headers["Content-Disposition"] = f'inline; filename="{filename}"'
        return web.FileResponse(path, headers=headers)
