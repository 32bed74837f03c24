"""Handling's group commit: turns share a transaction, each in its savepoint, answered after the commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.turns import TurnBatcher
from storage.db import Database
from storage.models import Message


async def _store(session: AsyncSession, pid: str) -> int:
    row = Message(channel="telegram", direction="in", channel_user_id="7", provider_message_id=pid, text=pid)
    session.add(row)
    await session.flush()
    return row.id


@contextlib.asynccontextmanager
async def batching(url: str, **options: Any) -> AsyncIterator[tuple[Database, TurnBatcher]]:
    db = Database(url)
    batcher = TurnBatcher(db, **options)
    try:
        yield db, batcher
    finally:
        await batcher.stop()
        await db.dispose()


async def _visible(db: Database, message_id: int) -> bool:
    async with db.read() as s:  # another connection: only what is committed
        return (await s.get(Message, message_id)) is not None


async def test_turns_ready_together_share_a_commit_and_each_hears_only_after_it(any_db_url: str) -> None:
    async with batching(any_db_url, max_turns=32) as (db, batcher):

        async def one(i: int) -> bool:
            message_id = await batcher.run(lambda s: _store(s, f"t{i}"))
            return await _visible(db, message_id)

        seen = await asyncio.gather(*(one(i) for i in range(40)))
        assert all(seen)
        assert batcher.turns == 40
        assert batcher.batches < 40  # shared: not one transaction per turn


async def test_a_turn_queued_as_the_last_batch_ends_still_runs(db_url: str) -> None:
    """One after another, each the moment the previous one returns: the runner that served the
    previous turn has just finished, and the new turn must not wait for it."""
    async with batching(db_url) as (db, batcher):
        async with asyncio.timeout(5):  # no task of its own per turn: that would start a tick later
            ids = [await batcher.run(lambda s, i=i: _store(s, f"seq{i}")) for i in range(5)]
        assert all([await _visible(db, message_id) for message_id in ids])


async def test_parallel_batches_never_open_more_transactions_than_allowed(any_db_url: str) -> None:
    sessions: dict[int, AsyncSession] = {}
    most = 0

    async def turn(session: AsyncSession, i: int) -> int:
        nonlocal most
        sessions[id(session)] = session
        most = max(most, sum(1 for s in sessions.values() if s.in_transaction()))
        message_id = await _store(session, f"p{i}")
        await asyncio.sleep(0)  # let other batches run meanwhile
        return message_id

    async with batching(any_db_url, max_turns=4, parallel=3) as (db, batcher):
        ids = await asyncio.gather(*(batcher.run(lambda s, i=i: turn(s, i)) for i in range(30)))
        assert all([await _visible(db, i) for i in ids])
        assert most <= 3
        if not db.sqlite:
            assert most > 1  # a server's transactions overlap


async def test_a_failing_turn_loses_only_its_own_writes(any_db_url: str) -> None:
    async def fails(session: AsyncSession) -> int:
        await _store(session, "doomed")
        raise RuntimeError("handler bug")

    # A budget no loaded machine runs out of: this is about savepoints, and a first connection to
    # PostgreSQL could take the default 25 ms and close the batch after one turn.
    async with batching(any_db_url, budget_seconds=60) as (db, batcher):
        results = await asyncio.gather(
            batcher.run(lambda s: _store(s, "before")),
            batcher.run(fails),
            batcher.run(lambda s: _store(s, "after")),
            return_exceptions=True,
        )
        assert isinstance(results[1], RuntimeError)
        assert batcher.batches == 1
        async with db.read() as s:
            texts = set((await s.execute(select(Message.text))).scalars())
        assert texts == {"before", "after"}


async def test_a_batch_that_cannot_commit_fails_every_turn_in_it_and_keeps_nothing(db_url: str) -> None:
    async def dangling(session: AsyncSession) -> None:
        # A deferred foreign key passes the savepoint and breaks only at COMMIT: the batch is refused.
        raw = await session.connection()
        await raw.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        await raw.exec_driver_sql(
            "INSERT INTO attachments (message_id, kind, mime, provider_ref, created_at)"
            " VALUES (999999, 'photo', 'image/jpeg', 'x', '2026-01-01 00:00:00')"
        )

    async with batching(db_url, budget_seconds=60) as (db, batcher):  # both turns in one batch
        results = await asyncio.gather(
            batcher.run(lambda s: _store(s, "kept?")), batcher.run(dangling), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results), results
        async with db.read() as s:
            assert (await s.scalar(select(func.count()).select_from(Message))) == 0


async def test_stopping_cancels_turns_not_yet_started() -> None:
    db = Database("sqlite+aiosqlite://")
    batcher = TurnBatcher(db)
    gate, started = asyncio.Event(), asyncio.Event()

    async def slow(_session: AsyncSession) -> str:
        started.set()
        await gate.wait()
        return "finished"

    first = asyncio.create_task(batcher.run(slow))
    await asyncio.wait_for(started.wait(), 5)
    queued = asyncio.create_task(batcher.run(slow))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(batcher.stop())
    await asyncio.sleep(0)
    gate.set()
    await stopping
    assert await first == "finished"  # the batch in flight commits
    with pytest.raises(asyncio.CancelledError):
        await queued
    await db.dispose()
