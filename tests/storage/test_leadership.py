"""Singleton roles by PostgreSQL session locks: one leader per role, moving when it goes."""

from __future__ import annotations

from storage.db import Database
from storage.leadership import Leadership
from tests.conftest import wait_until


async def test_one_leader_per_role_and_the_role_moves_when_it_stops(pg_url: str) -> None:
    dbs = [Database(pg_url), Database(pg_url)]
    started: list[str] = []
    stopped: list[str] = []

    def leader(db: Database, name: str) -> Leadership:
        lead = Leadership(db, name, retry_seconds=0.1)

        async def gained() -> None:
            started.append(name)

        async def lost() -> None:
            stopped.append(name)

        lead.add("calendar", on_gain=gained, on_loss=lost)
        lead.add("cleanup")
        return lead

    first, second = leader(dbs[0], "a"), leader(dbs[1], "b")
    try:
        await first.start()
        await second.start()
        assert first.held() == ["calendar", "cleanup"] and second.held() == []
        await second._round()
        assert second.held() == [] and started == ["a"]

        await first.stop()  # its work stops first, then the locks are free
        assert stopped == ["a"] and first.held() == []

        async def moved() -> bool:
            return second.held() == ["calendar", "cleanup"]

        await wait_until(moved, timeout=5)
        assert started == ["a", "b"]
    finally:
        await first.stop()
        await second.stop()
        for db in dbs:
            await db.dispose()


async def test_a_lost_connection_gives_every_role_up(pg_url: str) -> None:
    db = Database(pg_url)
    lost: list[str] = []
    lead = Leadership(db, "a", retry_seconds=0.1)

    async def on_loss() -> None:
        lost.append("calendar")

    lead.add("calendar", on_loss=on_loss)
    try:
        await lead.start()
        assert lead.leads("calendar")
        assert lead._conn is not None
        await lead._conn.invalidate()

        async def regained() -> bool:
            return lost == ["calendar"] and lead.leads("calendar")

        await wait_until(regained, timeout=5)  # given up, then taken again on a fresh session
    finally:
        await lead.stop()
        await db.dispose()


async def test_sqlite_is_one_process_that_leads_everything(db_url: str) -> None:
    db = Database(db_url)
    lead = Leadership(db, "only", retry_seconds=0.1)
    lead.add("calendar")
    lead.add("mailbox:email")
    try:
        await lead.start()
        assert lead.held() == ["calendar", "mailbox:email"]
    finally:
        await lead.stop()
        await db.dispose()
    assert lead.held() == []
