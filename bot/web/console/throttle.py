"""Sign-in throttle: attempts are counted in the database before any password is checked.

Per account, the first ACCOUNT_FREE attempts are free and each one after waits twice as
long as the last (2 s, 4 s, 8 s ... up to 15 minutes): a stranger who knows a name can slow
its owner down but never lock them out for long, and gains only a handful of guesses an
hour. Per client address the limit is hard: ADDRESS_LIMIT evaluated attempts, then nothing
from that address until it has been quiet for ADDRESS_WINDOW. An attempt that is refused
counts nowhere, so waiting it out works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Database
from storage.models import utcnow
from storage.repos import login_throttle as repo

ACCOUNT_FREE = 5
ACCOUNT_BASE_DELAY = timedelta(seconds=2)
ACCOUNT_MAX_DELAY = timedelta(minutes=15)
ACCOUNT_FORGET = timedelta(hours=1)  # longer than the longest delay: a slow attack never starts over
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt, or a refusal (`refused` names which limit, `retry_after` in seconds)."""

    account_key: str
    address_key: str
    count: int = 0
    refused: str = ""
    retry_after: int = 0


class _Refused(Exception):
    def __init__(self, which: str) -> None:
        self.which = which


def account_delay(count: int) -> timedelta:
    """How long the account waits after its `count`-th attempt."""
    if count < ACCOUNT_FREE:
        return timedelta(0)
    return min(ACCOUNT_BASE_DELAY * (1 << min(count - ACCOUNT_FREE, 20)), ACCOUNT_MAX_DELAY)


class LoginThrottle:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve(self, account: str, address: str) -> Attempt:
        """Count the attempt against both limits in one transaction, or against neither."""
        akey, ikey = f"account:{account[:64]}", f"ip:{address[:64]}"
        now = utcnow()
        try:
            async with self.db.write() as s:
                # Always the address first, then the account: one lock order, so no deadlock.
                if (by_address := await repo.take(s, ikey, now, ADDRESS_WINDOW)) is None:
                    raise _Refused("address")
                if by_address > ADDRESS_LIMIT:
                    raise _Refused("address")
                count = await repo.take(s, akey, now, ACCOUNT_FORGET)
                if count is None:
                    raise _Refused("account")
                if count >= ACCOUNT_FREE:
                    await repo.lock(s, akey, now + account_delay(count))
        except _Refused as refused:  # rolled back: the refused attempt counted nowhere
            return Attempt(
                akey, ikey, refused=refused.which, retry_after=await self._wait(refused.which, akey, ikey)
            )
        return Attempt(akey, ikey, count=count)

    async def failed(self, attempt: Attempt) -> None:
        """Start the account's delay from the wrong answer, not from when the check began."""
        delay = account_delay(attempt.count)
        if delay:
            async with self.db.write() as s:
                await repo.lock(s, attempt.account_key, utcnow() + delay)

    async def succeeded(self, attempt: Attempt) -> None:
        now = utcnow()
        async with self.db.write() as s:
            await repo.clear(s, attempt.account_key)
            await repo.refund(s, attempt.address_key)
            await repo.purge(s, now - timedelta(days=1))

    async def _wait(self, which: str, akey: str, ikey: str) -> int:
        async with self.db.read() as s:
            row = await repo.get(s, akey if which == "account" else ikey)
        now = utcnow()
        if row is None:
            return 1
        until: datetime | None = row.locked_until if which == "account" else row.last_at + ADDRESS_WINDOW
        return max(1, math.ceil((until - now).total_seconds())) if until else 1
