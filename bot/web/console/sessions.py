"""Server-side console sessions.

The cookie holds a random id; the database holds only its SHA-256, the staff key, the
expiry and the CSRF token of that session. Logging out deletes the row, so the old cookie
opens nothing; a new id is made at every sign-in (an id planted before sign-in is never
promoted); changing a password deletes every session of that staff member.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from storage.db import Database
from storage.models import utcnow
from storage.repos import console_sessions as repo

SESSION_TTL = timedelta(hours=12)
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Session:
    staff_key: str
    csrf: str

    def check_csrf(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf.encode())


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, staff_key: str, *, ip: str | None, replacing: str | None = None) -> str:
        """A fresh session id for the cookie; the session the browser had before (if any) ends."""
        session_id = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.write() as s:
            if replacing:
                await repo.delete_one(s, _hash(replacing))
            await repo.purge_expired(s, now)
            await repo.create(
                s, _hash(session_id), staff_key, secrets.token_urlsafe(32), now + SESSION_TTL, ip
            )
        return session_id

    async def find(self, session_id: str | None) -> Session | None:
        if not session_id or not _SID.match(session_id):
            return None
        async with self.db.read() as s:
            row = await repo.get_live(s, _hash(session_id), utcnow())
        return Session(row.staff_key, row.csrf) if row is not None else None

    async def close(self, session_id: str | None) -> None:
        if session_id and _SID.match(session_id):
            async with self.db.write() as s:
                await repo.delete_one(s, _hash(session_id))
