"""WAL checkpoints move off the write connection (which runs on the loop) to the read pool's threads."""

from __future__ import annotations

from sqlalchemy import func, select, text

from bot.messages import Channel, InboundMessage
from storage.db import Database
from storage.models import Message, utcnow
from storage.repos import inbound as inbound_repo
from storage.wal import WalCheckpoints
from tests.conftest import wait_until


async def _store(db: Database, n: int) -> None:
    batch = [InboundMessage(Channel.TELEGRAM, str(i), f"w{n}-{i}", text="x" * 400) for i in range(200)]
    await inbound_repo.store_inbound(db, batch, now=utcnow())


async def test_the_writer_leaves_checkpoints_to_the_background_which_copies_every_page(db_url: str) -> None:
    db = Database(db_url)
    checkpoints = WalCheckpoints(db, every_seconds=3600)  # only the explicit calls below
    try:
        await checkpoints.start()
        async with db.write() as session:
            assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        for n in range(15):
            await _store(db, n)
        busy, pages, copied = await checkpoints.checkpoint()
        assert busy == 0 and pages > 1000 and copied == pages  # past the writer's old threshold
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(Message)) == 3000
    finally:
        await checkpoints.stop()
        await db.dispose()


async def test_checkpoints_run_by_themselves_while_serving(db_url: str) -> None:
    db = Database(db_url)
    checkpoints = WalCheckpoints(db, every_seconds=0.05)
    try:
        await checkpoints.start()
        await _store(db, 0)

        async def ran_twice() -> bool:
            return checkpoints.done >= 2

        await wait_until(ran_twice, 10)
    finally:
        await checkpoints.stop()
        await db.dispose()


async def test_an_in_memory_database_has_nothing_to_checkpoint() -> None:
    db = Database("sqlite+aiosqlite://")
    checkpoints = WalCheckpoints(db, every_seconds=0.01)
    await checkpoints.start()
    assert checkpoints._task is None
    await checkpoints.stop()
    await db.dispose()
