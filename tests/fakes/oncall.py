"""Escalation test kit: a rota with short times, a movable clock, and the bot wired to staff phones.

Staff phones are Telegram chats on the fake Bot API (1001 Li, 1002 Anna, 1003 Zhang);
the clients are the demo clients. `Clock` is injected into the escalation runtime
(service and scheduler), so a test moves time forward instead of sleeping for it,
while the real APScheduler tick keeps running against that clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import EscalationSettings, Settings
from storage.models import Alert, Escalation, OutboxRow, utcnow
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram

LI, ANNA, BOSS = 1001, 1002, 1003
ACME_CHAT = 5550001  # demo client "acme", English
HAILANG_CHAT = 5550002  # demo client "hailang", Chinese

ROTA = """
timezone = "Asia/Shanghai"

[staff.li]
name = "Li Wei"
telegram_chat_id = 1001
roles = ["qc"]

[staff.anna]
name = "Anna Schmidt"
telegram_chat_id = 1002
timezone = "Europe/Berlin"

[staff.boss]
name = "Zhang Min"
telegram_chat_id = 1003

[rotations.primary]
members = ["li"]
period = "weekly"
handoff = "09:00"
start = "2026-01-05"

[rotations.secondary]
members = ["anna"]
period = "weekly"
handoff = "09:00"
start = "2026-01-05"

[policies.urgent]
levels = [{ notify = ["rotation:primary"], after_seconds = 0 },
          { notify = ["rotation:secondary"], after_seconds = LEVEL2 }]
rounds = ROUNDS
ack_timeout_seconds = TIMEOUT

[policies.default]
levels = [{ notify = ["rotation:primary"], after_seconds = 0 },
          { notify = ["rotation:secondary"], after_seconds = 600 }]
rounds = 1
ack_timeout_seconds = 600

[routing]
urgent = "urgent"
default = "default"
"""


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def write_rota(tmp_path: Path, *, level2: float = 2, rounds: int = 1, timeout: float = 1000) -> str:
    path = tmp_path / "rota.toml"
    path.write_text(
        ROTA.replace("LEVEL2", str(level2)).replace("ROUNDS", str(rounds)).replace("TIMEOUT", str(timeout))
    )
    return str(path)


def escalation_settings(
    tmp_path: Path, db_url: str, fake: FakeTelegram, rota_file: str, **escalation: Any
) -> Settings:
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake))
    return replace(
        settings,
        escalation=replace(EscalationSettings(), rota_file=rota_file, **escalation),
    )


async def start_bot(settings: Settings, clock: Clock | None = None) -> BotHarness:
    """A harness whose escalation runtime runs on `clock`; demo clients seeded."""
    from bot.tools.demo import seed

    h = BotHarness(settings)
    if clock is not None:
        assert h.runtime.escalation is not None
        h.runtime.escalation.set_clock(clock)
    await h.start()
    await seed(h.db)
    return h


def alerts_to(fake: FakeTelegram, chat: int) -> list[str]:
    return [t for t in fake.texts_to(chat) if ("ESC-" in t and "Level" in t) or "alerting everyone" in t]


async def alert_rows(h: BotHarness) -> list[tuple[int, str, int, int]]:
    async with h.db.read() as s:
        rows = await s.execute(select(Alert).order_by(Alert.id))
        return [(a.escalation_id, a.staff_key, a.level, a.round) for a in rows.scalars()]


async def escalation(h: BotHarness, esc_id: int = 1) -> Escalation:
    async with h.db.read() as s:
        esc = await s.get(Escalation, esc_id)
        assert esc is not None
        return esc


async def alert_message_id(h: BotHarness, staff_key: str, esc_id: int = 1, level: int = 1) -> int:
    """The Telegram message id of the alert that reached `staff_key` (what a reply to it quotes)."""
    return int(await alert_provider_id(h, staff_key, esc_id, level))


async def alert_provider_id(
    h: BotHarness, staff_key: str, esc_id: int = 1, level: int = 1, round_: int = 1
) -> str:
    """The provider's id for the alert that reached `staff_key` (Telegram message id, Twilio SID, ...)."""
    async with h.db.read() as s:
        row = (
            await s.execute(
                select(OutboxRow.provider_message_id)
                .join(Alert, Alert.outbox_id == OutboxRow.id)
                .where(
                    Alert.escalation_id == esc_id,
                    Alert.staff_key == staff_key,
                    Alert.level == level,
                    Alert.round == round_,
                )
            )
        ).scalar_one()
    assert row is not None, "alert not delivered yet"
    return str(row)
