"""SQLite's inline write connection: statements and savepoints on the loop's thread, with SQLAlchemy's
transactions behaving as on any connection."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditLog
from storage.repos import audit
from storage.sqlite_inline import InlineConnection


async def _actions(db: Database) -> list[str]:
    async with db.read() as s:
        return [a.action for a in (await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars()]


async def test_savepoints_release_and_roll_back_as_sqlalchemy_means(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.write() as s:
            await audit.record(s, "bot", "outer")
            async with s.begin_nested():
                await audit.record(s, "bot", "released")
            with pytest.raises(RuntimeError):
                async with s.begin_nested():
                    await audit.record(s, "bot", "rolled back")
                    async with s.begin_nested():
                        await audit.record(s, "bot", "inner of rolled back")
                    raise RuntimeError
            async with s.begin_nested():
                await audit.record(s, "bot", "after")
        assert await _actions(db) == ["outer", "released", "after"]
    finally:
        await db.dispose()


async def test_a_statement_runs_at_once_on_the_calling_thread(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.write_engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, InlineConnection)
            seen: list[str] = []
            driver._connection.create_function(  # type: ignore[union-attr]
                "whose_thread", 0, lambda: seen.append(threading.current_thread().name) or 1
            )
            assert driver.execute_now("SELECT whose_thread(), 2", ()) == [(1, 2)]
            assert seen == [threading.current_thread().name]
    finally:
        await db.dispose()
