"""The outbox dispatcher's retry policy: backoff with jitter, give-up with a reason, resume after restart."""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import select

from bot.core.outbox import backoff_seconds
from storage.models import OutboxRow
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, message_update


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    samples = {a: [backoff_seconds(a, 2.0, 60.0, rng) for _ in range(200)] for a in (1, 3, 10)}
    assert all(1.0 <= s <= 2.0 for s in samples[1])
    assert all(1.0 <= s <= 8.0 for s in samples[3]) and max(samples[3]) > 4.0
    assert all(s <= 60.0 for s in samples[10]) and max(samples[10]) > 30.0
    assert len(set(samples[3])) > 100  # jitter: retries of many rows do not stampede together


async def test_gives_up_after_max_attempts_and_records_why(
    harness_factory, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    settings.outbox.max_attempts = 3
    fake_telegram.fail_always("sendMessage", 502)
    h: BotHarness = await harness_factory(settings)
    await h.post_telegram(message_update(42, text="hello"))
    await h.settled()
    assert await h.outbox_states("reply") == ["failed"]
    async with h.db.read() as s:
        row = (await s.execute(select(OutboxRow).where(OutboxRow.kind == "reply"))).scalar_one()
    assert row.attempts == 3
    assert (row.last_error or "").startswith("gave up after 3 attempts: telegram unavailable")
    to_client = [c for c in fake_telegram.calls if c.method == "sendMessage" and c.params["chat_id"] == "42"]
    assert len(to_client) == 3


async def test_pending_rows_are_delivered_once_after_a_restart(
    harness_factory, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    settings.outbox.backoff_base_seconds = 30.0  # the first run will not retry before it stops
    settings.outbox.backoff_max_seconds = 30.0
    fake_telegram.fail_next("sendMessage", 500, times=3)
    first: BotHarness = await harness_factory(settings)
    for chat in (1, 2, 3):
        await first.post_telegram(message_update(chat, text="hello"))
    await fake_telegram.wait_for(lambda f: len([c for c in f.calls if c.method == "sendMessage"]) == 3)
    await first.idle()
    await first.close()
    assert fake_telegram.sent("sendMessage") == []

    settings.outbox.backoff_base_seconds = 0.05
    async with first.db.write() as s:  # the operator does not want to wait 30 s: make them due now
        for row in (await s.execute(select(OutboxRow))).scalars():
            row.next_attempt_at = row.created_at
    second: BotHarness = await harness_factory(settings)
    await fake_telegram.wait_sent(3, "sendMessage")
    assert await second.settled() == ["sent", "sent", "sent"]
    assert sorted(str(c.params["chat_id"]) for c in fake_telegram.sent("sendMessage")) == ["1", "2", "3"]
