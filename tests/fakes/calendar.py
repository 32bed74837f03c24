"""Calendar test kit: a calendar file with Chinese New Year 2027, and a bot whose clock stands in it.

`at(...)` is a clock that runs from a chosen Shanghai wall-clock time (real time plus an
offset, like the escalation tests' Clock), injected into the engine (`ctx.now`) and the
escalation runtime, so "today" is inside the closure without waiting for February.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.settings import CalendarSettings, Settings
from storage.models import utcnow
from tests.conftest import BotHarness
from tests.fakes.oncall import Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")

CALENDAR = """
country = "CN"
timezone = "Asia/Shanghai"

[[closures]]
name = "Chinese New Year"
name_zh = "春节"
start = 2027-02-04
end = "2027-02-14"

[[closures]]
name = "Golden Week"
start = 2027-10-01
end = 2027-10-07
"""


def write_calendar(tmp_path: Path, text: str = CALENDAR) -> str:
    path = tmp_path / "calendar.toml"
    path.write_text(text)
    return str(path)


def with_calendar(settings: Settings, calendar_file: str) -> Settings:
    return replace(settings, calendar=CalendarSettings(file=calendar_file))


def at(year: int, month: int, day: int, hour: int = 10) -> Clock:
    """A clock that reads `year-month-day hour:00` Shanghai time now, and runs on from there."""
    clock = Clock()
    clock.offset = datetime(year, month, day, hour, tzinfo=SHANGHAI) - utcnow()
    return clock


async def start_bot_at(settings: Settings, clock: Clock) -> BotHarness:
    """The bot with every clock (handlers and escalation) on `clock`; demo clients seeded."""
    from bot.tools.demo import seed

    h = BotHarness(settings)
    h.runtime.set_clock(clock)
    await h.start()
    await seed(h.db)
    return h
