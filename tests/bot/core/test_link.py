"""The intake link: messages sent from another process are stored by this one's writer, or refused."""

from __future__ import annotations

import asyncio
import stat
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.link import MAX_FRAME, LinkServer, fresh_socket_path
from bot.core.link_client import LinkClient
from bot.core.writer import InboundWriter, Stored, StoreUnavailable
from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from storage.channel_state import DbReplayMemory
from storage.db import Database
from storage.models import Message
from tests.conftest import wait_until


def message(user: str, pid: str, text: str = "hello") -> InboundMessage:
    return InboundMessage(
        Channel.TELEGRAM,
        user,
        pid,
        text=text,
        sender_name="李雷",
        attachments=[Attachment(AttachmentKind.PHOTO, mime="image/jpeg", provider_ref="f1")],
        received_at=datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
        extra={"chat_type": "private"},
    )


async def test_messages_sent_over_the_link_are_committed_before_their_answer(
    tmp_path: Path, db_url: str
) -> None:
    db = Database(db_url)
    woken: list[Stored] = []
    writer = InboundWriter(db, woken.extend)
    await writer.start()
    server = LinkServer(str(tmp_path / "link.sock"), writer.submit, DbReplayMemory(db))
    await server.start()
    link = LinkClient(server.path)
    await link.start()
    try:

        async def one(i: int) -> list[Stored]:
            stored = await link.submit([message(str(i % 5), f"m{i}", text=f"text {i}")])
            async with db.read() as s:  # stored by the time the webhook would answer 200
                row = await s.get(Message, stored[0].message_id)
                assert row is not None and row.text == f"text {i}"
            return stored

        results = await asyncio.gather(*(one(i) for i in range(50)))
        assert all(r[0].is_new for r in results) and len({r[0].message_id for r in results}) == 50
        assert writer.batches < 50  # the link's requests share the writer's transactions
        assert sorted(s.message_id for s in woken) == sorted(r[0].message_id for r in results)
        again = await link.submit([message("1", "m1")])  # the provider's retry
        assert again[0].is_new is False and again[0].message_id == results[1][0].message_id
        async with db.read() as s:
            row = (await s.execute(select(Message).where(Message.provider_message_id == "m3"))).scalar_one()
        kept = InboundMessage.from_json(row.payload)  # the whole message crossed the link
        assert kept.sender_name == "李雷" and kept.attachments[0].provider_ref == "f1"
        assert kept.extra == {"chat_type": "private"} and kept.received_at == message("3", "m3").received_at

        assert await link.remember(1_700_000_000, "n1", "sig", forget_before=None) is True
        assert await link.remember(1_700_000_000, "n1", "sig", forget_before=None) is False  # a replay
    finally:
        await link.stop()
        await server.stop()
        await writer.stop()
        await db.dispose()


async def test_a_failed_store_is_refused_and_a_broken_link_fails_every_waiting_one(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def submit(messages: list[InboundMessage]) -> list[Stored]:
        if messages[0].text == "fail":
            raise RuntimeError("disk full")
        await release.wait()  # the storing process hangs: these are in flight when it dies
        return []

    server = LinkServer(str(tmp_path / "link.sock"), submit)
    await server.start()
    link = LinkClient(server.path)
    await link.start()
    with pytest.raises(StoreUnavailable, match="RuntimeError"):
        await link.submit([message("1", "a", text="fail")])
    with pytest.raises(StoreUnavailable):  # this process has no replay memory to offer
        await link.remember(1, "n", "s", forget_before=None)
    waiting = [asyncio.create_task(link.submit([message("2", f"w{i}")])) for i in range(3)]
    await wait_until(lambda: _count(server._pending, 3))  # all three reached the storing side
    for stream in list(server._streams):  # the storing process dies: its end of the socket closes
        stream.writer.transport.abort()
    for task in waiting:
        with pytest.raises(StoreUnavailable, match="gone"):
            await task
    assert link.lost.is_set()
    with pytest.raises(StoreUnavailable):
        await link.submit([message("3", "later")])
    release.set()
    await link.stop()
    await server.stop()


async def test_a_peer_that_sends_no_frame_is_closed_and_stores_nothing(tmp_path: Path) -> None:
    stored: list[InboundMessage] = []

    async def submit(messages: list[InboundMessage]) -> list[Stored]:
        stored.extend(messages)
        return []

    server = LinkServer(str(tmp_path / "link.sock"), submit)
    await server.start()
    try:
        for junk in (struct.pack(">I", MAX_FRAME + 1), struct.pack(">I", 4) + b"[1]\n", b"\x00\x00"):
            reader, writer = await asyncio.open_unix_connection(server.path)
            writer.write(junk)
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, no answer
            writer.close()
        reader, writer = await asyncio.open_unix_connection(server.path)
        body = b'{"i": 7, "m": [{"channel": "nope"}]}'
        writer.write(struct.pack(">I", len(body)) + body)
        head = await asyncio.wait_for(reader.readexactly(4), 5)
        answer = await reader.readexactly(struct.unpack(">I", head)[0])
        assert b'"i":7' in answer and b'"e"' in answer  # not a message: refused by name
        writer.close()
        assert stored == []
    finally:
        await server.stop()


async def _count(items: set[asyncio.Task[None]], n: int) -> bool:
    return len(items) == n


def test_the_socket_lives_in_a_directory_only_this_user_can_enter() -> None:
    path = Path(fresh_socket_path())
    try:
        assert path.name == "link.sock" and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        other = Path(fresh_socket_path())
        assert other.parent != path.parent  # each serve its own
        other.parent.rmdir()
    finally:
        path.parent.rmdir()
