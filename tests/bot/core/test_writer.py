"""The group-commit writer: many webhooks share a transaction, each answered only after its commit."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.core.writer import InboundWriter, Stored
from bot.messages import Channel, InboundMessage
from storage.db import Database
from storage.models import Message


async def test_concurrent_submissions_share_batches_and_are_committed_on_return(any_db_url: str) -> None:
    db = Database(any_db_url)
    handed_over: list[Stored] = []
    writer = InboundWriter(db, handed_over.extend)
    await writer.start()
    try:

        async def one(i: int) -> list[Stored]:
            stored = await writer.submit(
                [InboundMessage(Channel.TELEGRAM, str(i % 7), f"u{i}", text=f"m{i}")]
            )
            # durability: by the time the webhook would answer, another connection sees the row
            async with db.read() as s:
                assert (await s.get(Message, stored[0].message_id)) is not None
            return stored

        results = await asyncio.gather(*(one(i) for i in range(200)))
        assert all(r[0].is_new for r in results)
        assert len({r[0].message_id for r in results}) == 200
        assert writer.batches < 200  # grouped, not one transaction per request
        assert sorted(s.message_id for s in handed_over) == sorted(r[0].message_id for r in results)

        again = await writer.submit([InboundMessage(Channel.TELEGRAM, "1", "u1")])
        assert again[0].is_new is False and again[0].message_id == results[1][0].message_id
        assert len(handed_over) == 200  # a retry is not handed to the engine again
    finally:
        await writer.stop()
        await db.dispose()


async def test_a_failed_batch_fails_its_callers_and_the_writer_goes_on(db_url: str) -> None:
    db = Database(db_url)
    writer = InboundWriter(db, lambda stored: None)
    await writer.start()
    try:
        bad = InboundMessage(Channel.TELEGRAM, "1", "x", text="\ud800")  # not encodable: the INSERT fails
        try:
            await writer.submit([bad])
        except Exception:
            pass
        else:  # pragma: no cover - the point of the test
            raise AssertionError("a failed commit must not be reported as stored")
        ok = await writer.submit([InboundMessage(Channel.TELEGRAM, "1", "y", text="fine")])
        assert ok[0].is_new
        async with db.read() as s:
            texts = list((await s.execute(select(Message.text))).scalars())
        assert texts == ["fine"]
    finally:
        await writer.stop()
        await db.dispose()
