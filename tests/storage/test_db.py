"""Migrations and repositories, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.messages import Channel, InboundMessage, OutboundMessage
from storage.db import Database, WriteLane
from storage.migrate import current_heads, upgrade
from storage.models import Message, OutboxRow, utcnow
from storage.repos import clients, conversations, counters
from storage.repos import inbound as inbound_repo
from storage.repos import messages as message_repo
from storage.repos import outbox as outbox_repo


def inbound(pid: str, user: str = "1", text: str = "hi") -> InboundMessage:
    return InboundMessage(Channel.TELEGRAM, user, pid, text=text)


async def test_migrations_reach_head_and_are_idempotent(any_db_url: str) -> None:
    await upgrade(any_db_url)  # already migrated by the fixture: a second run changes nothing
    heads = await current_heads(any_db_url)
    assert heads and all(h for h in heads)


async def test_outbox_enqueue_is_idempotent_and_claims_due_rows(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        out = OutboundMessage(Channel.TELEGRAM, "1", "hello", idempotency_key="reply:1:0")
        async with db.write() as s:
            a = await outbox_repo.enqueue(s, out)
            b = await outbox_repo.enqueue(s, out)
            later = await outbox_repo.enqueue(
                s,
                OutboundMessage(Channel.TELEGRAM, "1", "later", idempotency_key="k2"),
                not_before=utcnow() + timedelta(hours=1),
            )
        assert a.id == b.id
        async with db.write() as s:
            claimed = await outbox_repo.claim_due(s, now=utcnow(), lease=timedelta(seconds=60))
        assert [r.id for r in claimed] == [a.id]
        async with db.write() as s:  # leased: not claimed again until the lease runs out
            assert await outbox_repo.claim_due(s, now=utcnow(), lease=timedelta(seconds=60)) == []
            again = await outbox_repo.claim_due(
                s, now=utcnow() + timedelta(seconds=61), lease=timedelta(seconds=60)
            )
        assert [r.id for r in again] == [a.id]
        async with db.write() as s:
            await outbox_repo.mark_sent(s, a.id, "p-1")
        async with db.read() as s:
            row = await s.get(OutboxRow, a.id)
            msg = await s.get(Message, row.message_id)
            assert row.state == "sent" and msg.delivery == "sent" and msg.provider_message_id == "p-1"
            assert (await outbox_repo.depth(s)) == {"sent": 1, "pending": 1}
            assert await outbox_repo.next_due_at(s) == (await s.get(OutboxRow, later.id)).next_attempt_at
    finally:
        await db.dispose()


async def test_conversations_page_newest_first(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            await clients.upsert_client(
                s, "acme", name="Acme", contacts=[clients.ContactRef("telegram", "u0")]
            )
            for i in range(5):
                contact = await clients.get_or_create_contact(s, "telegram", f"u{i}")
                conv = await conversations.open_conversation(s, contact)
                conversations.touch(conv, utcnow() + timedelta(seconds=i))
        async with db.read() as s:
            page1, cursor = await conversations.list_conversations(s, limit=2)
            page2, cursor2 = await conversations.list_conversations(s, limit=2, cursor=cursor)
            page3, cursor3 = await conversations.list_conversations(s, limit=2, cursor=cursor2)
        ids = [c.contact.channel_user_id for c in page1 + page2 + page3]
        assert ids == ["u4", "u3", "u2", "u1", "u0"] and cursor3 is None
        assert conversations.conversation_json(page3[0])["client"] == "acme"
    finally:
        await db.dispose()


async def test_counters_increase_without_gaps(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            values = [await counters.next_value(s, "claim:2026") for _ in range(3)]
            assert await counters.next_value(s, "claim:2027") == 1
        assert values == [1, 2, 3]
    finally:
        await db.dispose()


async def test_upsert_client_moves_contacts(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            await clients.upsert_client(
                s, "a", name="A", contacts=[clients.ContactRef("email", "x@a.example")]
            )
            await clients.upsert_client(
                s, "b", name="B", contacts=[clients.ContactRef("email", "x@a.example")]
            )
        async with db.read() as s:
            contact = await clients.get_contact(s, "email", "x@a.example")
            b = await clients.get_client(s, "b")
            assert contact is not None and b is not None and contact.client_id == b.id
            assert clients.client_json(b)["contacts"] == [{"channel": "email", "id": "x@a.example"}]
    finally:
        await db.dispose()


async def test_models_and_migrations_agree(any_db_url: str) -> None:
    """A column added to a model without a migration (or the reverse) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.models import Base

    engine = create_async_engine(any_db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_a_recipient_with_a_row_in_flight_waits_and_a_dead_owners_lease_runs_out(
    any_db_url: str,
) -> None:
    """Several dispatchers: one recipient's rows never go out side by side, and a lease that
    nobody extends any more (its process died) is claimed again."""
    db = Database(any_db_url)
    lease = timedelta(seconds=3)
    try:
        async with db.write() as s:
            first = await outbox_repo.enqueue(
                s, OutboundMessage(Channel.TELEGRAM, "1", "a", idempotency_key="a")
            )
            second = await outbox_repo.enqueue(
                s, OutboundMessage(Channel.TELEGRAM, "1", "b", idempotency_key="b")
            )
            other = await outbox_repo.enqueue(
                s, OutboundMessage(Channel.TELEGRAM, "2", "c", idempotency_key="c")
            )
        async with db.write() as s:
            mine = await outbox_repo.claim_due(s, now=utcnow(), lease=lease, limit=1, owner="p1")
        assert [r.id for r in mine] == [first.id]
        async with db.write() as s:  # p2 may not send "b" while "a" is in flight with p1
            theirs = await outbox_repo.claim_due(s, now=utcnow(), lease=lease, owner="p2")
        assert [r.id for r in theirs] == [other.id]
        async with db.write() as s:  # p1's heartbeat keeps its lease; p2's does nothing to p1's rows
            assert await outbox_repo.heartbeat(s, "p1", [first.id], utcnow() + lease) == 1
            assert await outbox_repo.heartbeat(s, "p2", [first.id], utcnow() + lease) == 0
        async with db.write() as s:  # p1 died: after the lease its row and the recipient's next are due
            later = await outbox_repo.claim_due(s, now=utcnow() + lease * 2, lease=lease, owner="p2")
        assert [r.id for r in later] == [first.id, second.id, other.id]  # "c": p2 never extended it
        async with db.write() as s:
            await outbox_repo.mark_sent_many(s, [(first.id, first.message_id, "m-1")])
            assert await outbox_repo.release(s, "p2", [second.id]) == 1  # a graceful stop gives "b" back
        async with db.read() as s:
            row = await s.get(OutboxRow, first.id)
            msg = await s.get(Message, first.message_id)
            assert row is not None and row.state == "sent" and row.locked_by is None and row.attempts == 1
            assert msg is not None and msg.delivery == "sent" and msg.provider_message_id == "m-1"
            again = await s.get(OutboxRow, second.id)
            assert again is not None and again.state == "pending"
    finally:
        await db.dispose()


async def test_staff_sync_from_several_processes_at_once_does_not_collide(any_db_url: str) -> None:
    import asyncio

    from storage.repos import staff as staff_repo

    dbs = [Database(any_db_url) for _ in range(3)]
    try:

        async def sync(db: Database, name: str) -> None:
            async with db.write() as s:
                await staff_repo.upsert(s, "li", name=name, roles=["qc"], telegram_chat_id=1001)

        await asyncio.gather(*(sync(db, f"Li {i}") for i, db in enumerate(dbs)))
        async with dbs[0].read() as s:
            li = await staff_repo.get(s, "li")
            assert (
                li is not None and li.name.startswith("Li ") and li.telegram_chat_id == "1001" and li.active
            )
            assert li.language == "en"
    finally:
        for db in dbs:
            await db.dispose()


async def test_the_write_lane_serves_the_inbound_writer_first_then_in_arrival_order() -> None:
    lane = WriteLane()
    order: list[str] = []
    hold = asyncio.Event()

    async def writer(name: str, urgent: bool) -> None:
        async with lane.turn(urgent):
            order.append(name)
            if name == "first":
                await hold.wait()

    first = asyncio.create_task(writer("first", False))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(writer(n, False)) for n in ("a", "b")]
    cancelled = asyncio.create_task(writer("gone", False))
    waiting.append(asyncio.create_task(writer("inbound", True)))
    await asyncio.sleep(0)
    cancelled.cancel()
    hold.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "inbound", "a", "b"]
    async with lane.turn(False):  # free again: a turn is taken at once
        order.append("later")
    assert order[-1] == "later"


async def test_a_quick_read_sees_committed_rows_while_the_writer_holds_its_transaction(
    any_db_url: str,
) -> None:
    """The hot path's lookups (storage/db.py `quick_read`) run beside an open write transaction
    and see exactly what is committed: a worker never takes a half-written message."""
    db = Database(any_db_url)
    try:
        await inbound_repo.store_inbound(db, [inbound("q1", user="42")], now=utcnow())
        async with db.write() as session:
            session.add(Message(channel="telegram", direction="in", channel_user_id="42"))
            await session.flush()
            async with db.quick_read() as reader:
                row = await message_repo.oldest_unhandled(reader, "telegram", "42")
                seen = await reader.scalar(select(func.count()).select_from(Message))
            assert row is not None and row.provider_message_id == "q1"
            assert seen == 1  # the second is not committed yet
        async with db.quick_read() as reader:
            seen = await reader.scalar(select(func.count()).select_from(Message))
        assert seen == 2
    finally:
        await db.dispose()
