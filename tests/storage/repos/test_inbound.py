"""The group commit's INSERT on the driver's own connection, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.messages import Channel, InboundMessage
from storage.db import Database
from storage.models import Message
from storage.repos import inbound as inbound_repo
from storage.repos import messages as message_repo


def inbound(pid: str, user: str = "1", text: str = "hi") -> InboundMessage:
    return InboundMessage(Channel.TELEGRAM, user, pid, text=text)


async def test_a_batch_is_deduplicated_within_itself_and_against_what_is_stored(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        first = await inbound_repo.store_inbound(db, [inbound("1"), inbound("2"), inbound("1")])
        assert [new for _, new in first] == [True, True, False]
        assert first[0][0] == first[2][0]
        second = await inbound_repo.store_inbound(db, [inbound("2"), inbound("3")])
        assert second[0] == (first[1][0], False) and second[1][1] is True
        # the same provider id on another channel is another message, even in one batch with a retry
        other = await inbound_repo.store_inbound(db, [InboundMessage(Channel.WECHAT, "o", "1"), inbound("1")])
        assert other[0][1] is True and other[1] == (first[0][0], False)
        async with db.read() as s:
            assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 4
            assert len(await message_repo.unhandled_inbound(s)) == 4
    finally:
        await db.dispose()


async def test_a_row_reads_back_as_the_orm_would_have_stored_it(any_db_url: str) -> None:
    """The columns' own bind processors: an aware UTC time, the payload as JSON, a waiting row."""
    db = Database(any_db_url)
    now = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)
    message = InboundMessage(
        Channel.TELEGRAM, "42", "u-1", text="订单 PO-1 到哪了？", extra={"update": {"nested": [1, "二"]}}
    )
    try:
        [(row_id, new)] = await inbound_repo.store_inbound(db, [message], now=now)
        assert new
        async with db.read() as s:
            row = await message_repo.get_message(s, row_id)
            waiting = await message_repo.oldest_unhandled(s, "telegram", "42")
        assert row is not None and waiting is not None and waiting.id == row_id
        assert (row.direction, row.channel_user_id, row.text) == ("in", "42", "订单 PO-1 到哪了？")
        assert row.created_at == now and row.handled_at is None and row.conversation_id is None
        assert row.payload == message.to_json()
        assert InboundMessage.from_json(row.payload).extra == {"update": {"nested": [1, "二"]}}
    finally:
        await db.dispose()


async def test_a_full_batch_is_one_statement_of_many_rows(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        stored = await inbound_repo.store_inbound(db, [inbound(f"b{i}", str(i)) for i in range(256)])
        assert all(new for _, new in stored) and len({mid for mid, _ in stored}) == 256
    finally:
        await db.dispose()
