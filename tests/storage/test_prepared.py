"""Prepared statements on the driver: what they write reads back as the ORM's own, inside the caller's
transaction and savepoint, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, InvalidRequestError

from storage.db import Database
from storage.models import AuditLog, Contact, Conversation
from storage.prepared import Prepared, named
from storage.repos import audit, clients, conversations

_AUDIT = cast(Table, AuditLog.__table__)
WRITE = Prepared(
    insert(_AUDIT).values(named(_AUDIT, "at", "actor", "action", "target", "details")).returning(_AUDIT.c.id)
)
READ = Prepared(select(_AUDIT.c.at, _AUDIT.c.details).where(_AUDIT.c.id == bindparam("id")))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
)


async def test_values_read_back_as_through_the_orm(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(at=moments, details=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
        def check(at: datetime, details: dict[str, Any]) -> None:
            examples.append((at, details))  # hypothesis draws; the database work runs below

        examples: list[tuple[datetime, dict[str, Any]]] = []
        check()
        for at, details in examples:
            params = {"at": at, "actor": "bot", "action": "probe", "target": None, "details": details}
            async with db.write() as s:
                row_id = await WRITE.scalar(s, params)
            async with db.read() as s:
                orm = await s.get(AuditLog, row_id)
                assert orm is not None
                assert orm.at == at and orm.at.tzinfo is not None and orm.details == details
                async with db.quick_connection() as conn:
                    assert await READ.first(conn, {"id": row_id}) == (orm.at, orm.details)
    finally:
        await db.dispose()


async def test_a_statement_runs_in_the_callers_savepoint(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            await audit.record(s, "bot", "kept")
            with pytest.raises(RuntimeError):
                async with s.begin_nested():
                    await audit.record(s, "bot", "rolled back")
                    raise RuntimeError
        with pytest.raises(RuntimeError):
            async with db.write() as s:
                await audit.record(s, "bot", "whole transaction rolled back")
                raise RuntimeError
        async with db.read() as s:
            assert [a.action for a in (await s.execute(select(AuditLog))).scalars()] == ["kept"]
    finally:
        await db.dispose()


async def test_an_adopted_row_is_the_sessions_own(any_db_url: str) -> None:
    """A contact and conversation written by prepared INSERTs behave as flushed ORM objects: later
    changes are UPDATEs at commit, relationships answer without a lazy load."""
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            contact, created = await clients.contact_for_inbound(s, "telegram", "77", "Ann", None)
            assert created and contact.client is None
            conv = await conversations.start_conversation(s, contact, language="zh")
            assert conv.contact is contact and conv.state == "bot" and conv.dialog_state == {}
            conv.dialog = "orders"
            contact.language = "zh"
            again, created = await clients.contact_for_inbound(s, "telegram", "77")
            assert again is contact and not created
        async with db.read() as s:
            stored = (await s.execute(select(Conversation))).scalar_one()
            assert stored.dialog == "orders" and stored.language == "zh" and stored.created_at.tzinfo
            assert (await s.execute(select(Contact.language))).scalar_one() == "zh"
    finally:
        await db.dispose()


def test_python_side_defaults_are_refused() -> None:
    """An INSERT that leaves a column to a Python default would lose it on the driver: named up front."""
    table = cast(Table, AuditLog.__table__)
    partial = Prepared(insert(table).values(named(table, "actor", "action")))
    with pytest.raises(ValueError, match="Python-side defaults"):
        partial.bound(sqlite.dialect(), {"actor": "a", "action": "b"})


async def test_a_load_sees_what_the_session_would_flush(any_db_url: str) -> None:
    """A row loaded on the driver is the ORM's object; a change the session holds unflushed (a
    conversation closed, a contact added) is seen as the ORM's autoflush would show it."""
    db = Database(any_db_url)
    try:
        async with db.write() as s:
            contact, _ = await clients.contact_for_inbound(s, "telegram", "5")
            await conversations.start_conversation(s, contact)
        async with db.write() as s:
            loaded = await clients.get_contact(s, "telegram", "5")
            assert loaded is not None and loaded.id == contact.id
            conv = await conversations.current_conversation(s, loaded)
            assert conv is not None and conv.contact_id == contact.id
            conv.state = "closed"  # not flushed
            assert await conversations.current_conversation(s, loaded) is None
            s.add(Contact(channel="telegram", channel_user_id="6"))  # pending, not flushed
            added = await clients.get_contact(s, "telegram", "6")
            assert added is not None and added.id is not None
            loaded.name = "Li"
        async with db.read() as s:
            names = select(Contact.name).where(Contact.channel_user_id == "5")
            assert (await s.execute(names)).scalar() == "Li"
            assert (await s.execute(select(Conversation.state))).scalar() == "closed"
        async with db.write() as s:
            closed = (await s.execute(select(Conversation))).scalar_one()
            closed.state = "bot"  # reopened, not flushed: no row of the table matches yet
            assert await conversations.current_conversation(s, contact) is closed
    finally:
        await db.dispose()


async def test_a_session_rolled_back_by_a_failed_flush_refuses_the_statement(db_url: str) -> None:
    """As the ORM refuses to go on after a failed flush, so does a prepared statement: on the driver
    it would have run outside any transaction and been kept."""
    db = Database(db_url)
    try:
        async with db.write_sessions() as s:
            await audit.record(s, "bot", "first")
            s.add(Contact(channel="telegram", channel_user_id="1"))
            s.add(Contact(channel="telegram", channel_user_id="1"))
            with pytest.raises(IntegrityError):
                await s.flush()
            with pytest.raises(InvalidRequestError):
                await audit.record(s, "bot", "after the failed flush")
            await s.rollback()
        async with db.read() as s:
            assert list((await s.execute(select(AuditLog))).scalars()) == []
    finally:
        await db.dispose()
