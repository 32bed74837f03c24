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
