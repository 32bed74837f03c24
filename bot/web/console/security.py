"""Console credentials: argon2id password hashes, and the login form's CSRF token.

New hashes are argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane),
which makes each offline guess cost memory as well as time while keeping a sign-in near
0.1 s on a busy 2-core machine, and five concurrent checks under 100 MiB. Hashes from before are scrypt; they
still verify, once, and `needs_rehash` tells the login to store an argon2id hash in their place.
Sessions themselves live in the database (see sessions.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8

# argon2id (the library's default type); parameters travel in the hash, so raising them needs no migration.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when there is no usable hash, so an unknown name costs as much as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify_scrypt(password: str, stored: str) -> bool:
    """The hashes written before argon2id: `scrypt$N$r$p$salt$digest`."""
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
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
    return hmac.compare_digest(got, expected)


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; an empty or malformed stored hash never matches (but still costs a hash)."""
    if stored and stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or an argon2 hash weaker than today's parameters."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


class Signer:
    """HMAC tokens for the login form, which has no session yet to bind its CSRF token to."""

    def __init__(self, secret: str) -> None:
        # A per-process random key when no admin token is configured: a login form then
        # expires at restart and is not accepted by another process.
        base = secret or secrets.token_hex(32)
        self.key = hashlib.sha256(("console-login:" + base).encode()).digest()

    def csrf_token(self, nonce: str) -> str:
        digest = hmac.new(self.key, ("csrf:" + nonce).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check_csrf(self, nonce: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf_token(nonce).encode())
