"""Shared fixtures: databases (SQLite, and PostgreSQL when configured), fakes, and the bot harness."""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.app import Runtime, build_runtime, create_app
from config.settings import (
    CalendarSettings,
    ClaimsSettings,
    DatabaseSettings,
    DocumentsSettings,
    EscalationSettings,
    MediaSettings,
    OutboxSettings,
    ServerSettings,
    Settings,
    TelegramSettings,
)
from storage.migrate import upgrade
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.fakes.wechat import FakeWeChat

PG_URL = os.environ.get("AFTERSALES_TEST_DATABASE_URL", "")
ADMIN_TOKEN = "test-admin-token"
TG_SECRET = "test-webhook-secret"


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


class PgDatabases:
    """One migrated template per test session; each test gets a fresh copy of it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.template = f"aftersales_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def setup(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        await upgrade(self.url_for(self.template))

    def url_for(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    async def fresh(self) -> str:
        name = f"aftersales_t_{uuid.uuid4().hex[:10]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self.url_for(name)

    async def teardown(self) -> None:
        for name in reversed(self.created):
            try:
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:  # pragma: no cover - best effort clean-up
                pass


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabases | None]:
    if not PG_URL:
        yield None
        return
    dbs = PgDatabases(PG_URL)
    asyncio.run(dbs.setup())
    yield dbs
    asyncio.run(dbs.teardown())


async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'aftersales.db'}"
    await upgrade(url)
    return url


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def any_db_url(request: pytest.FixtureRequest, tmp_path: Path, pg: PgDatabases | None) -> str:
    """A migrated database of each kind; PostgreSQL only when AFTERSALES_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        return await sqlite_url(tmp_path)
    if pg is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL not set")
    return await pg.fresh()


@pytest_asyncio.fixture
async def db_url(tmp_path: Path) -> str:
    return await sqlite_url(tmp_path)


@pytest_asyncio.fixture
async def pg_url(pg: PgDatabases | None) -> str:
    """A fresh migrated PostgreSQL database, for what only a server shows (session locks)."""
    if pg is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL not set")
    return await pg.fresh()


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.close()


@pytest_asyncio.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio().start()
    yield fake
    await fake.close()


@pytest_asyncio.fixture
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    fake = await FakeWeChat().start()
    yield fake
    await fake.close()


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    """A real SMTP server (aiosmtpd) on a free loopback port, recording what it receives."""
    server = FakeSmtp().start()
    yield server
    server.stop()


def demo_documents() -> DocumentsSettings:
    """The demo's seller (config/demo.toml), fonts found on the system as in production."""
    with (Path(__file__).parent.parent / "config" / "demo.toml").open("rb") as fh:
        return DocumentsSettings(**tomllib.load(fh)["documents"])


def make_settings(tmp_path: Path, db_url: str, **sections: Any) -> Settings:
    settings = Settings(
        server=ServerSettings(admin_token=ADMIN_TOKEN, public_url="http://127.0.0.1:8080"),
        database=DatabaseSettings(url=db_url),
        # The fakes listen on 127.0.0.x: the one explicit exception to "public addresses only".
        media=MediaSettings(dir=str(tmp_path / "media"), max_bytes=5_000_000, allow_loopback=True),
        outbox=OutboxSettings(max_attempts=5, backoff_base_seconds=0.05, backoff_max_seconds=0.2),
        escalation=EscalationSettings(rota_file=str(Path(__file__).parent / "fakes" / "rota.toml")),
        calendar=CalendarSettings(file=""),  # no closures unless a test names a calendar
        documents=demo_documents(),
        claims=ClaimsSettings(ocr=False),  # no Tesseract (a second a photo) unless a test reads labels
    )
    return replace(settings, **sections)


def telegram_settings(fake: FakeTelegram) -> TelegramSettings:
    return TelegramSettings(
        enabled=True,
        token=fake.token,
        webhook_secret=TG_SECRET,
        api_base_url=fake.api_base_url,
        file_base_url=fake.file_base_url,
    )


class BotHarness:
    """The real app on a real 127.0.0.1 port, driven the way providers drive it."""

    def __init__(self, settings: Settings, secret_sink: Any = None) -> None:
        self.settings = settings
        self.runtime: Runtime = build_runtime(settings, secret_sink=secret_sink)
        self.server = TestServer(create_app(settings, self.runtime), host="127.0.0.1")
        self.client = TestClient(self.server)

    async def start(self) -> BotHarness:
        await self.client.start_server()
        return self

    async def close(self) -> None:
        await self.client.close()

    @property
    def db(self) -> Any:
        return self.runtime.db

    async def post_telegram(
        self,
        update: dict[str, Any] | bytes,
        *,
        secret: str | None = TG_SECRET,
        headers: dict[str, str] | None = None,
    ) -> Any:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            hdrs["X-Telegram-Bot-Api-Secret-Token"] = secret
        return await self.client.post("/webhooks/telegram", data=body, headers=hdrs)

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def idle(self, timeout: float = 10.0) -> None:
        await self.runtime.engine.wait_idle(timeout)

    async def outbox_states(self, kind: str | None = None) -> list[str]:
        """States of the outbox rows in order; `kind="reply"` leaves out staff alerts."""
        from sqlalchemy import select

        from storage.models import OutboxRow

        query = select(OutboxRow.state).order_by(OutboxRow.id)
        if kind is not None:
            query = query.where(OutboxRow.kind == kind)
        async with self.db.read() as s:
            return list((await s.execute(query)).scalars())

    async def settled(self, timeout: float = 10.0) -> list[str]:
        """Wait until every message is handled and no outbox row is pending or in flight."""
        await self.idle(timeout)

        async def done() -> bool:
            return not {"pending", "sending"} & set(await self.outbox_states())

        await wait_until(done, timeout)
        return await self.outbox_states()


async def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll an async condition until it holds; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@pytest_asyncio.fixture
async def harness_factory(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[BotHarness] = []

    async def factory(settings: Settings) -> BotHarness:
        h = await BotHarness(settings).start()
        started.append(h)
        return h

    yield factory
    for h in started:
        await h.close()


@pytest_asyncio.fixture
async def tg_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> BotHarness:
    """The bot with Telegram enabled against the fake, on SQLite, demo clients seeded."""
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    h = await harness_factory(settings)
    await seed(h.db)
    return h
