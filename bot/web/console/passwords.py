"""Setting console passwords: the `aftersales staff passwd` command and the demo staff member.

The demo password is printed in the README, so the row it is set on is flagged
(`Staff.demo_password`); the console refuses it whenever server.sandbox = false.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.console.security import MIN_PASSWORD_LENGTH, hash_password, verify_password
from storage.db import Database
from storage.repos import console as repo
from storage.repos import staff as staff_repo

DEMO_KEY, DEMO_NAME, DEMO_ROLES = "li", "Li Wei", ["qc", "sales"]
DEMO_PASSWORD = "demo-li-2026"
LEGACY_DEMO_PASSWORDS = ("demo",)  # what older seeds set; a re-seed replaces it


class PasswordError(Exception):
    """Said to the operator as one line."""


def read_password(stdin: TextIO | None = None) -> str:
    """Prompt twice on a terminal; read one line from a pipe (for scripts)."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass("New console password: ")
        if getpass.getpass("Again: ") != first:
            raise PasswordError("the two passwords differ")
        password = first
    else:
        password = stream.readline().rstrip("\r\n")
    check_length(password)
    return password


def check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


async def set_password(db: Database, staff_key: str, password: str, *, actor: str = "cli") -> None:
    check_length(password)
    hashed = await asyncio.to_thread(hash_password, password)
    async with db.write() as session:
        if not await repo.set_password_hash(session, staff_key, hashed, actor):
            raise PasswordError(f"no staff member {staff_key!r}; staff come from the rota (see `rota who`)")


async def seed_demo_staff(session: AsyncSession) -> None:
    """Sandbox only: staff "li" with the demo password, unless that row has a password of its own.

    A row still holding an older seed's password (which the 8-character minimum now refuses)
    gets the current one. Whatever row ends up with a published password is flagged.
    """
    row = await staff_repo.get(session, DEMO_KEY)
    if row is None:
        row = await staff_repo.upsert(session, DEMO_KEY, name=DEMO_NAME, roles=DEMO_ROLES)
    if row.password_hash:
        for known in (DEMO_PASSWORD, *LEGACY_DEMO_PASSWORDS):
            if await asyncio.to_thread(verify_password, known, row.password_hash):
                row.demo_password = True
                if known != DEMO_PASSWORD:
                    row.password_hash = None
                break
    if not row.password_hash:
        row.password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
        row.demo_password = True
