"""A contact's waiting messages: which comes next, whether more wait, and how the database finds it."""

from __future__ import annotations

from bot.messages import Channel, InboundMessage
from storage.db import Database
from storage.repos import inbound as inbound_repo
from storage.repos import messages as message_repo


def inbound(pid: str, user: str) -> InboundMessage:
    return InboundMessage(Channel.TELEGRAM, user, pid, text="hi")


async def test_the_oldest_waiting_message_and_whether_more_wait(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        batch = [inbound("a1", "42"), inbound("b1", "43"), inbound("a2", "42")]
        ids = await inbound_repo.store_inbound(db, batch)
        async with db.quick_read() as s:
            first = await message_repo.oldest_unhandled(s, "telegram", "42")
            other = await message_repo.oldest_unhandled(s, "telegram", "43")
        assert first is not None and first.provider_message_id == "a1" and first.more is True
        assert first.inbound().channel_user_id == "42"
        assert other is not None and other.provider_message_id == "b1" and other.more is False
        async with db.write() as s:
            assert await message_repo.oldest_unhandled_id(s, "telegram", "42") == ids[0][0]
            await message_repo.mark_handled(s, ids[0][0], None)
        async with db.quick_read() as s:
            second = await message_repo.oldest_unhandled(s, "telegram", "42")
        assert second is not None and second.provider_message_id == "a2" and second.more is False
        async with db.write() as s:
            await message_repo.mark_handled(s, ids[2][0], None)
            assert await message_repo.oldest_unhandled_id(s, "telegram", "42") is None
        async with db.quick_read() as s:
            assert await message_repo.oldest_unhandled(s, "telegram", "42") is None
            assert [uid for _ch, uid in await message_repo.unhandled_contacts(s)] == ["43"]
    finally:
        await db.dispose()


async def test_a_contacts_look_ups_never_walk_the_other_contacts_backlog(db_url: str) -> None:
    """SQLite's plan for the engine's two per-message look-ups, with a backlog of other contacts.

    Without statistics SQLite took the index of every waiting message for them, so each look-up
    walked the whole backlog and handling slowed as the queue grew.
    """
    db = Database(db_url)
    try:
        await inbound_repo.store_inbound(db, [inbound(f"x{i}", str(i % 50)) for i in range(500)])
        async with db.quick_connection() as conn:
            waiting = await message_repo.oldest_unhandled(conn, "telegram", "7")
        async with db.write() as s:
            assert await message_repo.oldest_unhandled_id(s, "telegram", "7") == (waiting and waiting.id)
        assert waiting is not None and waiting.more
        params = {"channel": "telegram", "user": "7"}
        async with db.read() as s:
            conn = await s.connection()
            for prepared in (message_repo.OLDEST_UNHANDLED, message_repo.OLDEST_UNHANDLED_ID):
                query, args = prepared.bound(conn.dialect, params)
                rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", tuple(args))).all()
                plan = " ".join(str(r[-1]) for r in rows)
                assert "USING INDEX ix_messages_unhandled_contact" in plan, plan
    finally:
        await db.dispose()
