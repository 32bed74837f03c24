"""The outbox claim: queue order across new rows and run-out leases, and a plan a backlog cannot slow."""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Channel, OutboundMessage
from storage.db import Database
from storage.models import utcnow
from storage.repos import outbox as outbox_repo


def reply(user: str, key: str) -> OutboundMessage:
    return OutboundMessage(Channel.TELEGRAM, user, f"text {key}", idempotency_key=key)


async def test_a_claim_takes_new_rows_and_run_out_leases_in_queue_order(any_db_url: str) -> None:
    db = Database(any_db_url)
    lease = timedelta(seconds=30)
    try:
        start = utcnow()
        async with db.write() as s:
            a = await outbox_repo.enqueue(s, reply("1", "a"), not_before=start - timedelta(seconds=3))
            b = await outbox_repo.enqueue(s, reply("2", "b"), not_before=start - timedelta(seconds=2))
        async with db.write() as s:  # a process takes "a" and dies with it
            taken = await outbox_repo.claim_due(s, now=start, lease=lease, limit=1, owner="dead")
        assert [r.id for r in taken] == [a.id]
        async with db.write() as s:
            c = await outbox_repo.enqueue(s, reply("3", "c"), not_before=start - timedelta(seconds=1))
            d = await outbox_repo.enqueue(s, reply("1", "d"), not_before=start - timedelta(seconds=1))
        async with db.write() as s:  # "d" waits: its recipient's "a" is still in flight
            assert [r.id for r in await outbox_repo.claim_due(s, now=start, lease=lease, limit=1)] == [b.id]
        later = start + lease * 2  # the dead owner's lease has run out; "b" and its lease too
        async with db.write() as s:
            again = await outbox_repo.claim_due(s, now=later, lease=lease, limit=10, owner="p2")
        assert [r.id for r in again] == [a.id, b.id, c.id, d.id]
        assert [r.message_id for r in again] == [a.message_id, b.message_id, c.message_id, d.message_id]
        async with db.write() as s:
            assert await outbox_repo.claim_due(s, now=later, lease=lease, limit=10, owner="p3") == []
    finally:
        await db.dispose()


async def test_the_claims_plan_walks_the_due_index_in_order_and_probes_in_flight(db_url: str) -> None:
    """SQLite's plan: no sort of every due row, no walk of every row being sent, whatever the backlog."""
    db = Database(db_url)
    try:
        async with db.write() as s:
            for i in range(300):
                await outbox_repo.enqueue(s, reply(str(i % 40), f"k{i}"))
        now = utcnow()
        async with db.write() as s:
            claimed = await outbox_repo.claim_due(s, now=now, lease=timedelta(seconds=30), limit=20)
        assert len(claimed) == 20 and len({r.payload["channel_user_id"] for r in claimed}) == 20
        params = {"now": now, "limit": 20, "until": now, "owner": None}
        async with db.read() as s:
            conn = await s.connection()
            query, args = outbox_repo.claim_statement("sqlite").bound(conn.dialect, params)
            rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", tuple(args))).all()
        plan = [str(r[-1]) for r in rows]
        assert any("busy USING INDEX ix_outbox_in_flight" in step for step in plan), plan
        assert any("USING INDEX ix_outbox_due (state=? AND next_attempt_at<?)" in step for step in plan), plan
        # Not one OR of both kinds sorted whole: the only sort left is of at most twice `limit` rows.
        assert not any("MULTI-INDEX OR" in step for step in plan), plan
        assert sum("TEMP B-TREE" in step for step in plan) <= 1, plan
    finally:
        await db.dispose()
