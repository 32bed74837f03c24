"""Run Alembic migrations programmatically, for `aftersales db upgrade` and the tests.

Several processes may run the upgrade at the same moment (each instance's start-up
script): on PostgreSQL the migration transaction first takes an advisory lock, so
one migrates and the others wait, then find the database at head and do nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import ensure_sqlite_dir
from storage.leases import MIGRATIONS as MIGRATION_LOCK

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(url: str, revision: str = "heads", *, engine: AsyncEngine | None = None) -> None:
    """Migrate to `revision` on the given async URL, inside the running event loop.

    `engine`: migrate over this engine's connection (an in-memory database exists only there).
    """
    ensure_sqlite_dir(url)
    own = engine is None
    engine = engine or create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            await conn.run_sync(_upgrade_sync, url, revision)
    finally:
        if own:
            await engine.dispose()


def _upgrade_sync(connection: object, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def current_heads(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))
    finally:
        await engine.dispose()
