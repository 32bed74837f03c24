"""Setting console passwords: the `aftersales staff passwd` command and the demo staff member."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.security import MIN_PASSWORD_LENGTH, hash_password
from storage.db import Database
from storage.repos import console as repo
from storage.repos import staff as staff_repo

DEMO_KEY, DEMO_NAME, DEMO_ROLES = "li", "Li Wei", ["qc", "sales"]
DEMO_PASSWORD = "demo"


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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


async def set_password(db: Database, staff_key: str, password: str, *, actor: str = "cli") -> None:
    hashed = await asyncio.to_thread(hash_password, password)
    async with db.write() as session:
        if not await repo.set_password_hash(session, staff_key, hashed, actor):
            raise PasswordError(f"no staff member {staff_key!r}; staff come from the rota (see `rota who`)")


async def seed_demo_staff(session: AsyncSession) -> None:
    """Sandbox only: staff "li" with password "demo", unless that row already has a password."""
    row = await staff_repo.get(session, DEMO_KEY)
    if row is None:
        row = await staff_repo.upsert(session, DEMO_KEY, name=DEMO_NAME, roles=DEMO_ROLES)
    if not row.password_hash:
        row.password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
