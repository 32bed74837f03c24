"""Console credentials: scrypt password hashes, signed session cookies, CSRF tokens.

All standard library, so nothing here can drift with a dependency. The session is a
signed cookie, not a server-side row: any `aftersales serve` process holding the same
admin token can check it. It carries a fingerprint of the staff member's password
hash, so changing a password (or deactivating the account) ends every open session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

# scrypt cost: 16 MiB of memory and ~50 ms per check on these machines; the per-user salt
# and the parameters are stored in the hash so they can be raised later without a migration.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
SESSION_TTL_SECONDS = 12 * 3600
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked against when the user does not exist, so an unknown name costs as much as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password", salt=b"\0" * 16)


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; an empty or malformed stored hash never matches (but still costs a hash)."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY_HASH).split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected) and stored is not None


def hash_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Session:
    staff_key: str
    nonce: str  # per-login random value; the CSRF token is derived from it
    expires: int
    fingerprint: str  # of the password hash at login time


class Signer:
    """HMAC-signed session cookies and the CSRF tokens derived from them."""

    def __init__(self, secret: str) -> None:
        # A per-process random key when no admin token is configured: sessions then end at restart.
        base = secret or secrets.token_hex(32)
        self.key = hashlib.sha256(("console-sessions:" + base).encode()).digest()

    def _sig(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def issue(self, staff_key: str, fingerprint: str, *, now: float | None = None) -> tuple[str, Session]:
        session = Session(
            staff_key, secrets.token_urlsafe(16), int((now or time.time()) + SESSION_TTL_SECONDS), fingerprint
        )
        payload = _b64(
            json.dumps([session.staff_key, session.nonce, session.expires, session.fingerprint]).encode()
        )
        return f"{payload}.{self._sig(payload)}", session

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        payload, sig = cookie.split(".")
        if not hmac.compare_digest(sig.encode(), self._sig(payload).encode()):
            return None
        try:
            key, nonce, expires, fingerprint = json.loads(_unb64(payload))
            session = Session(str(key), str(nonce), int(expires), str(fingerprint))
        except (ValueError, TypeError):
            return None
        return session if session.expires > (now or time.time()) else None

    def csrf_token(self, nonce: str) -> str:
        return self._sig("csrf:" + nonce)

    def check_csrf(self, nonce: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf_token(nonce).encode())
