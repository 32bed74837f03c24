"""SQLite's inline write connection: statements and savepoints on the loop's thread, with SQLAlchemy's
transactions behaving as on any connection."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from bot.messages import Channel, InboundMessage
from storage.db import Database
from storage.models import AuditLog, Message
from storage.repos import audit
from storage.repos import inbound as inbound_repo
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


async def test_the_inbound_writer_has_its_own_connection_and_waits_its_turn(db_url: str) -> None:
    """A webhook's commit on the intake connection while handling holds the pool's write connection:
    it waits for the lane instead of failing on SQLite's lock, and both writes are kept."""
    db = Database(db_url)
    try:
        handling_open, release = asyncio.Event(), asyncio.Event()

        async def handling() -> None:
            async with db.write() as s:
                await audit.record(s, "bot", "handled")
                handling_open.set()
                await release.wait()  # the write transaction stays open meanwhile

        task = asyncio.create_task(handling())
        await handling_open.wait()
        webhook = [InboundMessage(Channel.TELEGRAM, "1", "u1")]
        storing = asyncio.create_task(inbound_repo.store_inbound(db, webhook))
        for _ in range(5):
            await asyncio.sleep(0)  # a few turns of the loop: it reaches the lane and waits there
        assert not storing.done()
        release.set()
        [(message_id, new)] = await asyncio.wait_for(storing, 5)
        await task
        assert new and await _actions(db) == ["handled"]
        async with db.read() as s:
            assert (await s.get(Message, message_id)) is not None
        async with db.intake() as own:
            assert isinstance(own, InlineConnection)
            assert own.execute_now("PRAGMA wal_autocheckpoint", ()) == [(0,)]  # never on a webhook's commit
            assert own.execute_now("PRAGMA journal_mode", ()) == [("wal",)]
    finally:
        await db.dispose()
