"""Calendar jobs: hand-off messages at the rota's local hand-off time, and the morning digest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.fakes.oncall import ACME_CHAT, ANNA, LI, alerts_to, escalation_settings, start_bot, write_rota
from tests.fakes.telegram import FakeTelegram, message_update


async def test_handoff_messages_and_digest(tmp_path: Path, db_url: str, fake_telegram: FakeTelegram) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        esc = h.runtime.escalation
        assert esc is not None and esc.jobs.scheduler is not None
        # weekly rotations starting Monday 5 Jan 2026 hand off on Mondays at 09:00 Shanghai time
        job = esc.jobs.scheduler.get_job("handoff-primary")
        nxt = job.next_run_time.astimezone(ZoneInfo("Asia/Shanghai"))
        assert (nxt.weekday(), nxt.hour, nxt.minute) == (0, 9, 0)

        start, _end = esc.rota.shift("primary", esc.service.clock()) or (None, None)
        assert start is not None
        assert await esc.jobs.handoff_messages(start) == 2
        assert (
            await esc.jobs.handoff_messages(start + timedelta(seconds=30)) == 2
        )  # a second process, same shift
        await h.settled()
        [li_msg] = [t for t in fake_telegram.texts_to(LI) if "You are on call" in t]
        [anna_msg] = [t for t in fake_telegram.texts_to(ANNA) if "You are on call" in t]
        assert "(primary)" in li_msg and "CST" in li_msg
        assert "(secondary)" in anna_msg and ("CET" in anna_msg or "CEST" in anna_msg)  # her own time zone
        assert await esc.jobs.handoff_messages(start + timedelta(hours=5)) == 0  # not a hand-off time

        await h.post_telegram(message_update(ACME_CHAT, text="urgent!"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        assert await esc.jobs.digest() == 2
        await h.settled()
        digest = next(t for t in fake_telegram.texts_to(LI) if "Morning digest" in t)
        assert "ESC-000001 urgent urgent open · NOT acknowledged" in digest
        assert any("Morning digest" in t for t in fake_telegram.texts_to(ANNA))
    finally:
        await h.close()


async def test_an_occurrence_runs_once_only_on_the_leader_and_a_new_leader_catches_up(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from storage.models import utcnow
    from storage.repos import jobs as job_runs

    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        jobs = h.runtime.escalation.jobs
        ran: list[str] = []

        async def job() -> None:
            ran.append("ran")

        due = utcnow() - timedelta(seconds=2)  # an occurrence that fired two seconds ago
        trigger = CronTrigger(hour=due.hour, minute=due.minute, second=due.second, timezone="UTC")
        jobs.leads = lambda role: False  # a follower: its scheduler fires too, and stands back
        assert await jobs.run_occurrence("probe", trigger, job) is False
        jobs.leads = lambda role: role == "calendar"
        assert await jobs.run_occurrence("probe", trigger, job) is True
        assert await jobs.run_occurrence("probe", trigger, job) is False  # the same occurrence: once
        assert ran == ["ran"]
        async with h.db.read() as s:
            [run] = await job_runs.runs(s, "probe")
        assert run.occurrence == due.replace(microsecond=0) and run.instance == h.runtime.health.instance

        # a leader that died before the digest fired: whoever takes over runs the missed occurrence
        missed = utcnow() - timedelta(minutes=3)
        jobs.digest_time = (missed.hour, missed.minute, missed.second)
        jobs.service.rota.timezone = "UTC"
        assert await jobs.catch_up() >= 1
        async with h.db.read() as s:
            assert [r.occurrence for r in await job_runs.runs(s, "digest")] == [missed.replace(microsecond=0)]
        assert await jobs.catch_up() == 0  # and only once
    finally:
        await h.close()
