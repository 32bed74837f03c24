"""What several processes on one database agree on beyond row locks (CONTRACT.md: several processes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class JobRun(Base):
    """One occurrence of a calendar job (digest, hand-off messages, coverage check), run once.

    The leader runs the job; this row is the fence: a deposed leader that has not noticed
    yet, or a new leader catching up an occurrence its predecessor may have run, inserts
    the same key and stands back.
    """

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurrence: Mapped[datetime] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(128))
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
