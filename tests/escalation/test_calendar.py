"""The factory calendar: the file and its mistakes, holiday routing and coverage, the morning digest."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.tools.cli import main
from config.settings import ConfigError
from escalation.calendar import CalendarError, load_calendar, parse_calendar
from escalation.coverage import bind_calendar, coverage_gaps
from escalation.rota import RotaError, parse_rota
from escalation.runtime import read_calendar
from tests.fakes.calendar import CALENDAR, SHANGHAI, at, start_bot_at, with_calendar, write_calendar
from tests.fakes.oncall import ACME_CHAT, BOSS, LI, alerts_to, escalation_settings, write_rota
from tests.fakes.telegram import FakeTelegram, message_update


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_the_shipped_calendar_has_cn_holidays_chinese_new_year_and_golden_week() -> None:
    cal = load_calendar("config/calendar.toml")
    assert cal.country == "CN" and cal.timezone == "Asia/Shanghai"
    cny = cal.closure_on(date(2027, 2, 4))
    assert cny is not None and (cny.name, cny.start, cny.end) == (
        "Chinese New Year",
        date(2027, 2, 4),
        date(2027, 2, 14),
    )
    assert cny.reopens == date(2027, 2, 15) and cny.name_in("zh") == "春节"
    assert cal.closure_on(date(2027, 2, 15)) is None
    golden = cal.closure_on(date(2027, 10, 3))
    assert golden is not None and golden.name == "Golden Week"
    assert cal.holiday_on(date(2027, 10, 1)) == "National Day"
    assert cal.holiday_on(date(2027, 3, 1)) is None


def test_days_are_the_factorys_local_days() -> None:
    cal = load_calendar("config/calendar.toml")
    # 3 Feb 16:00 UTC is 4 Feb 00:00 in Shanghai: closed; 3 Feb 15:59 UTC is still open
    assert cal.closure_at(datetime.fromisoformat("2027-02-03T16:00+00:00")) is not None
    assert cal.closure_at(datetime.fromisoformat("2027-02-03T15:59+00:00")) is None
    assert cal.day_off(shanghai(2027, 6, 9, 12)) == "Dragon Boat Festival"  # a holiday, not a closure
    assert cal.day_off(shanghai(2027, 6, 10, 12)) is None


def test_quoted_and_toml_dates_and_no_country() -> None:
    cal = parse_calendar(
        {"closures": [{"name": "Stock-take", "start": "2027-07-01", "end": date(2027, 7, 2)}]}
    )
    assert cal.closure_on(date(2027, 7, 2)) is not None
    assert cal.holiday_on(date(2027, 1, 1)) is None  # no country: no public holidays
    assert [i.kind for i in cal.items(date(2027, 1, 1), date(2027, 12, 31))] == ["closure"]


@pytest.mark.parametrize(
    ("raw", "entry", "reason"),
    [
        ({"country": "XX"}, "country", "unknown country code 'XX'"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"contry": "CN"}, "contry", "unknown entry"),
        ({"closures": {"name": "x"}}, "closures", "array of tables"),
        ({"closures": [{"start": "2027-02-04", "end": "2027-02-14"}]}, "closures[0].name", "required"),
        ({"closures": [{"name": "CNY", "end": "2027-02-14"}]}, "closures[0].start", "required"),
        (
            {"closures": [{"name": "CNY", "start": "2027-02-30", "end": "2027-03-01"}]},
            "closures[0].start",
            "bad date",
        ),
        (
            {"closures": [{"name": "CNY", "start": "2027-02-14", "end": "2027-02-04"}]},
            "closures[0].end",
            "ends before",
        ),
        (
            {"closures": [{"name": "CNY", "start": "2027-02-04", "end": "2027-02-14", "colour": "red"}]},
            "closures[0]",
            "unknown key 'colour'",
        ),
        (
            {
                "closures": [
                    {"name": "CNY", "start": "2027-02-04", "end": "2027-02-14"},
                    {"name": "Stock-take", "start": "2027-02-14", "end": "2027-02-16"},
                ]
            },
            "closures[1]",
            "overlaps closures[0] (CNY)",
        ),
    ],
)
def test_mistakes_name_the_file_and_the_entry(raw: dict[str, Any], entry: str, reason: str) -> None:
    with pytest.raises(CalendarError) as caught:
        parse_calendar(raw, "calendar.toml")
    assert caught.value.entry == entry and reason in caught.value.reason
    assert str(caught.value).startswith(f"calendar.toml: {entry}: ")


def test_a_bad_file_stops_start_up_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write_calendar(tmp_path, CALENDAR.replace('end = "2027-02-14"', 'end = "2027-02-01"'))
    with pytest.raises(ConfigError) as caught:
        read_calendar(bad)
    assert str(caught.value) == f"calendar: {bad}: closures[0].end: ends before it starts"
    with pytest.raises(ConfigError, match=r"calendar: .*nowhere\.toml: file: not found"):
        read_calendar(str(tmp_path / "nowhere.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("country = ")
    with pytest.raises(ConfigError, match=r"broken\.toml: file: invalid TOML"):
        read_calendar(str(broken))
    assert read_calendar("").closures == ()  # an empty calendar.file: no calendar at all

    # the same line from the command line, exit code 2 (serve stops the same way)
    monkeypatch.setenv("AFTERSALES_CALENDAR__FILE", bad)
    assert main(["rota", "who"]) == 2
    assert f"calendar: {bad}: closures[0].end: ends before it starts" in capsys.readouterr().err


def test_a_bad_calendar_stops_the_app_from_being_built(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    from bot.app import build_runtime

    settings = escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path))
    bad = write_calendar(tmp_path, CALENDAR.replace('country = "CN"', 'country = "ZZ"'))
    with pytest.raises(ConfigError, match=r"calendar: .*: country: unknown country code 'ZZ'"):
        build_runtime(with_calendar(settings, bad))


# ---- the holiday rotation ------------------------------------------------------------------------

HOLIDAY_ROTA = {
    "timezone": "Asia/Shanghai",
    "holiday_rotation": "holiday",
    "staff": {
        "li": {"telegram_chat_id": 1001},
        "boss": {"telegram_chat_id": 1003},
    },
    "rotations": {
        "primary": {"members": ["li"], "start": "2026-01-05"},
        "holiday": {"members": ["boss"], "start": "2027-02-06"},  # nobody on it for the first two days
    },
    "policies": {"urgent": {"levels": [{"notify": ["rotation:primary"], "after_seconds": 0}]}},
}


def test_on_a_closure_or_holiday_pages_go_to_the_holiday_rotation() -> None:
    rota = parse_rota(HOLIDAY_ROTA)
    bind_calendar(
        rota,
        parse_calendar(
            {
                "country": "CN",
                "closures": [{"name": "Chinese New Year", "start": "2027-02-04", "end": "2027-02-14"}],
            },
            default_timezone="Asia/Shanghai",
        ),
    )
    assert rota.resolve("rotation:primary", shanghai(2027, 2, 8, 12)) == ["boss"]  # closure
    assert rota.resolve("rotation:primary", shanghai(2027, 10, 2, 12)) == ["boss"]  # National Day
    assert rota.resolve("rotation:primary", shanghai(2027, 2, 15, 12)) == ["li"]  # reopened
    # nobody on the holiday rotation yet: the regular rotation still gets the page
    assert rota.resolve("rotation:primary", shanghai(2027, 2, 5, 12)) == ["li"]


def test_holiday_rotation_must_name_a_rotation() -> None:
    with pytest.raises(RotaError, match="holiday_rotation: unknown rotation 'holidays'"):
        parse_rota({**HOLIDAY_ROTA, "holiday_rotation": "holidays"})


def test_coverage_checks_include_holidays() -> None:
    rota = parse_rota(HOLIDAY_ROTA)
    cal = load_calendar("config/calendar.toml")
    gaps = coverage_gaps(rota, cal, shanghai(2027, 2, 1, 12))
    holiday = [g for g in gaps if g["rotation"] == "holiday"]
    assert holiday == [
        {
            "rotation": "holiday",
            "from": "2027-02-03T16:00:00+00:00",  # 4 Feb 00:00 Shanghai
            "until": "2027-02-06T01:00:00+00:00",  # 6 Feb 09:00 Shanghai: the holiday rotation's first shift
            "holiday": "Chinese New Year",
        }
    ]
    assert coverage_gaps(rota, cal, shanghai(2027, 3, 1, 12)) == []  # no holiday in the next 14 days
    without = parse_rota({k: v for k, v in HOLIDAY_ROTA.items() if k != "holiday_rotation"})
    assert coverage_gaps(without, cal, shanghai(2027, 2, 1, 12)) == []  # holidays on the regular rotation


async def test_urgent_in_a_closure_pages_the_holiday_rotation_and_start_up_reports_its_gap(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    rota = Path(write_rota(tmp_path, level2=60))
    text = rota.read_text()
    text = text.replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nholiday_rotation = "holiday"', 1
    )
    text += '\n[rotations.holiday]\nmembers = ["boss"]\nperiod = "daily"\nstart = "2027-02-06"\n'
    rota.write_text(text)
    settings = with_calendar(
        escalation_settings(tmp_path, db_url, fake_telegram, str(rota)), write_calendar(tmp_path)
    )
    h = await start_bot_at(settings, at(2027, 2, 8))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="URGENT: our container is stuck at customs"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, BOSS))
        assert alerts_to(fake_telegram, LI) == []  # Li is on holiday: the holiday rotation's Zhang is paged
        health = await (await h.client.get("/healthz")).json()
        assert health["details"]["escalation"]["coverage_gaps"] == []  # 8 Feb on: covered
    finally:
        await h.close()

    h = await start_bot_at(settings, at(2027, 2, 1))  # a week before: the first two closed days are a gap
    try:
        assert [g.get("holiday") for g in h.runtime.escalation.gaps] == ["Chinese New Year"]
        out = json.dumps(h.runtime.escalation.gaps)
        assert "2027-02-03T16:00:00+00:00" in out
    finally:
        await h.close()


# ---- the morning digest --------------------------------------------------------------------------


async def test_digest_lists_closures_in_the_next_30_days(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = with_calendar(
        escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path)), write_calendar(tmp_path)
    )
    h = await start_bot_at(settings, at(2027, 1, 20, hour=8))
    try:
        jobs = h.runtime.escalation.jobs
        assert await jobs.digest(shanghai(2027, 1, 20, 8, 30)) == 2
        await h.settled()
        digest = next(t for t in fake_telegram.texts_to(LI) if "Morning digest" in t)
        assert "Closures in the next 30 days: 1" in digest
        assert " Chinese New Year: 2027-02-04 – 2027-02-14, reopening 2027-02-15" in digest
        assert "Golden Week" not in digest

        assert await jobs.digest(shanghai(2026, 12, 20, 8, 30)) == 2  # 46 days before: not yet
        await h.settled()
        digests = [t for t in fake_telegram.texts_to(LI) if "Morning digest" in t]
        assert len(digests) == 2 and "Closures" not in digests[1]

        assert await jobs.digest(shanghai(2027, 2, 10, 8, 30)) == 2  # during the closure it is still listed
        await h.settled()
        last = [t for t in fake_telegram.texts_to(LI) if "Morning digest" in t][-1]
        assert "Chinese New Year: 2027-02-04 – 2027-02-14" in last
    finally:
        await h.close()


def test_rota_who_says_when_the_factory_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rota", "who", "--at", "2027-02-08T10:00+08:00"]) == 0  # default config: shipped calendar
    assert "(factory off: Chinese New Year)" in capsys.readouterr().out
    assert main(["rota", "who", "--at", "2027-03-08T10:00+08:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["day_off"] is None
