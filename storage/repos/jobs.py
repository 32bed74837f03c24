"""Calendar job occurrences: the fence that makes each one run once, whoever leads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of, rowcount
from storage.models import JobRun


async def claim_occurrence(session: AsyncSession, job: str, occurrence: datetime, instance: str) -> bool:
    """True for the one caller that records this occurrence first; everyone else must not run it."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(JobRun)
        .values(job=job, occurrence=occurrence, instance=instance)
        .on_conflict_do_nothing(index_elements=["job", "occurrence"])
    )
    return rowcount(await session.execute(stmt)) == 1


async def ran(session: AsyncSession, job: str, occurrence: datetime) -> bool:
    row = await session.execute(select(JobRun.job).where(JobRun.job == job, JobRun.occurrence == occurrence))
    return row.first() is not None


async def runs(session: AsyncSession, job: str | None = None) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.occurrence, JobRun.job)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list((await session.execute(query)).scalars())
