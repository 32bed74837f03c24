"""Several `aftersales serve` processes on one PostgreSQL (CONTRACT.md "Running several processes").

Real processes, the real PostgreSQL on 127.0.0.1, a round-robin proxy of our own and the
fake Bot API in the test process: what the clients and the staff phones received, and
what the database holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from storage.db import Database
from storage.models import Escalation
from storage.repos import jobs as job_runs
from tests.conftest import PgDatabases, wait_until
from tests.e2e.cluster_kit import (
    CONCURRENCY,
    FAQ,
    Load,
    Process,
    Proxy,
    config_text,
    empty_database,
    handled_in_arrival_order,
    inbound_rows,
    local_clock,
    replies_in_order,
    settled,
)
from tests.e2e.test_serve_process import cli, free_port
from tests.fakes.oncall import ANNA, LI, alerts_to
from tests.fakes.telegram import FakeTelegram, message_update

MESSAGES = 40 * len(FAQ)


@pytest.fixture
def need_pg(pg: PgDatabases | None) -> PgDatabases:
    if pg is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL not set")
    return pg


@pytest_asyncio.fixture
async def processes() -> AsyncIterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        if p.running():
            p.kill()


def make(
    tmp_path: Path, started: list[Process], n: int, db_url: str, fake: FakeTelegram, **escalation: str
) -> list[Process]:
    made = []
    for i in range(n):
        port = free_port()
        name = f"p{i + 1}"
        made.append(
            Process(tmp_path, name, config_text(tmp_path, name, port, db_url, fake, **escalation), port)
        )
    started.extend(made)
    return made


def assert_every_chat_in_order(fake: FakeTelegram, load: Load, *, repeats_allowed: int) -> int:
    repeats = 0
    for chat in load.chats:
        order, doubled = replies_in_order(fake, chat)
        assert order == list(range(len(FAQ))), f"chat {chat} got answers in the order {order}"
        repeats += doubled
    assert repeats <= repeats_allowed, f"{repeats} replies went out twice"
    return repeats


@pytest.mark.parametrize("n", [2, 3])
async def test_conversations_stay_in_order_across_processes(
    n: int, tmp_path: Path, need_pg: PgDatabases, processes: list[Process], fake_telegram: FakeTelegram
) -> None:
    # from an empty database: every process migrates and starts at the same moment
    db_url = await empty_database(need_pg)
    cluster = make(tmp_path, processes, n, db_url, fake_telegram)
    upgrades = await asyncio.gather(*(asyncio.to_thread(cli, p.config, "db", "upgrade") for p in cluster))
    assert [u.returncode for u in upgrades] == [0] * n, [u.stderr[-500:] for u in upgrades]
    await asyncio.gather(*(p.start() for p in cluster))
    proxy = await Proxy(cluster).start()
    try:
        load = Load(proxy)
        await load.run()
        assert load.statuses == [200] * MESSAGES
        await settled(db_url, MESSAGES)
    finally:
        await proxy.close()
    rows = await inbound_rows(db_url)
    assert (
        len(rows) == MESSAGES and len({r.provider_message_id for r in rows}) == MESSAGES
    )  # each stored once
    assert handled_in_arrival_order(rows)
    assert_every_chat_in_order(fake_telegram, load, repeats_allowed=0)
    leaders = [await p.leads() for p in cluster]
    assert sorted(role for roles in leaders for role in roles) == ["calendar", "cleanup"]  # one each


async def test_kill_9_under_load_loses_nothing_and_the_survivor_pages_on_time(
    tmp_path: Path, need_pg: PgDatabases, processes: list[Process], fake_telegram: FakeTelegram
) -> None:
    db_url = await need_pg.fresh()
    doomed, survivor = make(tmp_path, processes, 2, db_url, fake_telegram)
    await asyncio.gather(doomed.start(), survivor.start())
    proxy = await Proxy([doomed, survivor]).start()
    try:
        # an urgent message handled by the process about to die: it pages level 1
        load = Load(proxy)
        async with proxy.http.post(  # type: ignore[union-attr]
            f"{doomed.url}/webhooks/telegram",
            json=message_update(5550009, text="URGENT: container stuck at the port"),
            headers={"X-Telegram-Bot-Api-Secret-Token": "test-webhook-secret"},
        ) as r:
            assert r.status == 200
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 1, timeout=20)
        db = Database(db_url)
        async with db.read() as s:
            esc = (await s.execute(select(Escalation))).scalar_one()
        await db.dispose()
        level2_due = esc.opened_at.timestamp() + 8  # write_rota(level2=8)

        running = asyncio.create_task(load.run())
        await wait_until(lambda: _true(load.answered() >= 40), timeout=30)
        doomed.kill()
        killed_at = time.time()
        assert killed_at < level2_due, "the kill came after level 2 was due: the machine is too slow"
        await doomed.start()  # restarted under load
        await running
        # the proxy found a live process for every request
        assert load.statuses == [200] * MESSAGES, proxy.retried[-6:]
        deadline = level2_due + 10 - time.time()
        await fake_telegram.wait_for(lambda f: alerts_to(f, ANNA), timeout=max(0.1, deadline))
        await settled(db_url, MESSAGES + 1)
    finally:
        await proxy.close()
    rows = await inbound_rows(db_url)
    assert len(rows) == MESSAGES + 1 and len({r.provider_message_id for r in rows}) == MESSAGES + 1
    assert handled_in_arrival_order(rows)
    doubled = assert_every_chat_in_order(fake_telegram, load, repeats_allowed=CONCURRENCY)
    level2 = [
        c
        for c in fake_telegram.sent("sendMessage")
        if str(c.params["chat_id"]) == str(ANNA) and "ESC-" in str(c.params.get("text"))
    ]
    assert len(level2) == 1  # paged once, by the survivor (or the restarted process)
    paged_at = killed_at + (level2[0].at - _monotonic_at(killed_at))
    assert paged_at <= level2_due + 10
    print(f"kill -9: {doubled} replies sent twice; level 2 paged {paged_at - level2_due:+.2f}s from due")


async def test_rolling_restart_with_sigterm_loses_and_doubles_nothing(
    tmp_path: Path, need_pg: PgDatabases, processes: list[Process], fake_telegram: FakeTelegram
) -> None:
    db_url = await need_pg.fresh()
    first, second = make(tmp_path, processes, 2, db_url, fake_telegram)
    await asyncio.gather(first.start(), second.start())
    proxy = await Proxy([first, second]).start()
    stopping: dict[str, asyncio.Task[int]] = {}

    async def between(wave: int) -> None:
        """Waves of one question from every chat, with each process stopped and restarted in turn."""
        if wave > 3:
            return
        target = first if wave < 2 else second
        if wave in (0, 2):
            stopping[target.name] = asyncio.create_task(target.terminate())  # the next wave meets its drain
        else:
            assert await stopping.pop(target.name) == 0
            assert target.stopped_in is not None and target.stopped_in <= 15
            await target.start()

    try:
        load = Load(proxy)
        await load.run(between)
        assert load.statuses == [200] * MESSAGES, proxy.retried[-6:]  # no 5xx while another was up
        await settled(db_url, MESSAGES)
    finally:
        await proxy.close()
    rows = await inbound_rows(db_url)
    assert len(rows) == MESSAGES and len({r.provider_message_id for r in rows}) == MESSAGES
    assert_every_chat_in_order(fake_telegram, load, repeats_allowed=0)


async def test_calendar_job_runs_once_and_moves_when_its_leader_dies(
    tmp_path: Path, need_pg: PgDatabases, processes: list[Process], fake_telegram: FakeTelegram
) -> None:
    db_url = await need_pg.fresh()
    coverage_at, coverage_utc = local_clock("Asia/Shanghai", 25)
    digest_at, digest_utc = local_clock("Asia/Shanghai", 40)
    cluster = make(
        tmp_path, processes, 3, db_url, fake_telegram, coverage_time=coverage_at, digest_time=digest_at
    )
    await asyncio.gather(*(p.start() for p in cluster))
    leads = [await p.leads() for p in cluster]
    leaders = [p for p, roles in zip(cluster, leads, strict=True) if "calendar" in roles]
    assert len(leaders) == 1, leads
    leader = leaders[0]
    db = Database(db_url)
    try:

        async def ran(job: str) -> bool:
            async with db.read() as s:
                return bool(await job_runs.runs(s, job))

        await wait_until(lambda: ran("coverage"), timeout=(coverage_utc.timestamp() - time.time()) + 10)
        async with db.read() as s:
            coverage = await job_runs.runs(s, "coverage")
        assert [r.instance for r in coverage] == [leader.name]
        assert sum(len(p.log_lines("calendar job coverage")) for p in cluster) == 1

        leader.kill()
        survivors = [p for p in cluster if p is not leader]

        async def one_new_leader() -> bool:
            leading = [p for p in survivors if "calendar" in await p.leads()]
            return len(leading) == 1

        await wait_until(one_new_leader, timeout=10)
        assert time.time() < digest_utc.timestamp(), "the take-over came after the digest was due"
        await wait_until(lambda: ran("digest"), timeout=(digest_utc.timestamp() - time.time()) + 10)
        async with db.read() as s:
            digest = await job_runs.runs(s, "digest")
        assert len(digest) == 1 and digest[0].instance in {p.name for p in survivors}
        await fake_telegram.wait_for(
            lambda f: all(any("Morning digest" in t for t in f.texts_to(chat)) for chat in (LI, ANNA)),
            timeout=10,
        )
        for chat in (LI, ANNA):
            assert sum("Morning digest" in t for t in fake_telegram.texts_to(chat)) == 1
        assert sum(len(p.log_lines("calendar job digest")) for p in cluster) == 1
    finally:
        await db.dispose()


async def _true(value: bool) -> bool:
    return value


def _monotonic_at(wall: float) -> float:
    """The monotonic clock's reading at wall-clock time `wall` (the fake stamps calls monotonically)."""
    return time.monotonic() - (time.time() - wall)
