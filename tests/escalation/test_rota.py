"""The rota: who is on call at t, across daylight-saving changes and time zones, overrides, validation."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.tools.cli import main
from escalation.keywords import parse_keywords
from escalation.rota import RotaError, parse_rota


def rota(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "timezone": "Asia/Shanghai",
        "staff": {
            "li": {"name": "Li Wei", "telegram_chat_id": 1001},
            "anna": {"name": "Anna", "telegram_chat_id": 1002, "timezone": "Europe/Berlin"},
            "boss": {"name": "Zhang", "email": "Boss@Factory.example", "roles": ["manager"]},
        },
        "rotations": {
            "primary": {
                "members": ["li", "anna"],
                "period": "daily",
                "handoff": "09:00",
                "start": "2027-03-01",
            },
        },
        "policies": {"urgent": {"levels": [{"notify": ["rotation:primary"], "after_seconds": 0}]}},
        "routing": {"urgent": "urgent"},
    }
    raw.update(over)
    return raw


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_rotation_hands_off_at_local_time_in_shanghai() -> None:
    r = parse_rota(rota())
    # 09:00 Shanghai is 01:00 UTC (no DST in China)
    assert r.on_call("primary", utc(2027, 3, 1, 0, 59)) is None  # before the rota starts: a gap
    assert r.on_call("primary", utc(2027, 3, 1, 1, 0)) == "li"
    assert r.on_call("primary", utc(2027, 3, 2, 0, 59)) == "li"
    assert r.on_call("primary", utc(2027, 3, 2, 1, 0)) == "anna"
    assert r.on_call("primary", utc(2027, 3, 3, 1, 0)) == "li"


def test_berlin_rotation_keeps_0900_local_across_spring_and_autumn_dst() -> None:
    raw = rota()
    raw["rotations"]["primary"].update(timezone="Europe/Berlin", start="2027-03-26")
    r = parse_rota(raw)
    # Sat 27 March 2027: CET, 09:00 Berlin = 08:00 UTC. Sun 28 March: clocks go forward, 09:00 = 07:00 UTC.
    assert r.on_call("primary", utc(2027, 3, 27, 7, 59)) == "li"  # day 0 still
    assert r.on_call("primary", utc(2027, 3, 27, 8, 0)) == "anna"  # day 1 from 09:00 CET
    assert r.on_call("primary", utc(2027, 3, 28, 6, 59)) == "anna"
    assert r.on_call("primary", utc(2027, 3, 28, 7, 0)) == "li"  # 09:00 CEST, an hour earlier in UTC
    start, end = r.shift("primary", utc(2027, 3, 27, 12, 0)) or (None, None)
    assert (start, end) == (utc(2027, 3, 27, 8, 0), utc(2027, 3, 28, 7, 0))  # a 23-hour shift
    # Sun 31 October 2027: clocks go back; 09:00 CEST on Sat = 07:00 UTC, 09:00 CET on Sun = 08:00 UTC.
    saturday = r.on_call("primary", utc(2027, 10, 30, 7, 0))
    assert r.on_call("primary", utc(2027, 10, 31, 7, 30)) == saturday  # still Saturday's person
    assert r.on_call("primary", utc(2027, 10, 31, 8, 0)) != saturday
    start, end = r.shift("primary", utc(2027, 10, 30, 12, 0)) or (None, None)
    assert (end - start).total_seconds() == 25 * 3600  # type: ignore[operator]


def test_shanghai_rotation_moves_in_berlin_local_time_for_berlin_staff() -> None:
    """Anna in Berlin: the 09:00 Shanghai hand-off is 02:00 her time in winter, 03:00 in summer."""
    r = parse_rota(rota())
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    winter = r.shift("primary", utc(2027, 3, 27, 12, 0))
    summer = r.shift("primary", utc(2027, 3, 29, 12, 0))
    assert winter and summer
    assert winter[0].astimezone(berlin).hour == 2
    assert summer[0].astimezone(berlin).hour == 3
    # the hand-off instant in UTC does not move: Shanghai has no DST
    assert winter[0].hour == summer[0].hour == 1


def test_weekly_rotation_and_overrides() -> None:
    raw = rota(
        overrides=[
            {"rotation": "primary", "staff": "boss", "start": "2027-03-03T18:00", "end": "2027-03-04T09:00"},
            {
                "rotation": "primary",
                "staff": "anna",
                "start": "2027-03-03T20:00+08:00",
                "end": "2027-03-03T22:00+08:00",
            },
        ]
    )
    raw["rotations"]["primary"]["period"] = "weekly"
    r = parse_rota(raw)
    assert r.on_call("primary", utc(2027, 3, 3, 9, 0)) == "li"  # 17:00 Shanghai: week 1, li
    assert r.on_call("primary", utc(2027, 3, 3, 10, 0)) == "boss"  # 18:00 Shanghai: override
    assert r.on_call("primary", utc(2027, 3, 3, 12, 30)) == "anna"  # the later override wins while it lasts
    assert r.on_call("primary", utc(2027, 3, 3, 14, 0)) == "boss"
    assert r.on_call("primary", utc(2027, 3, 4, 1, 0)) == "li"  # back to the schedule at 09:00
    assert r.on_call("primary", utc(2027, 3, 8, 1, 0)) == "anna"  # week 2
    assert r.resolve("role:manager", utc(2027, 3, 8, 1, 0)) == ["boss"]
    assert r.staff["boss"].email == "boss@factory.example"


def test_coverage_gaps_in_the_next_14_days() -> None:
    r = parse_rota(rota())
    gaps = r.coverage_gaps(utc(2027, 2, 25, 0, 0))
    assert gaps == [
        {"rotation": "primary", "from": "2027-02-25T00:00:00+00:00", "until": "2027-03-01T01:00:00+00:00"}
    ]
    assert r.coverage_gaps(utc(2027, 3, 2, 0, 0)) == []


@pytest.mark.parametrize(
    ("change", "entry", "reason"),
    [
        (
            {"rotations": {"primary": {"members": ["li", "ghost"], "start": "2027-03-01"}}},
            "rotations.primary.members",
            "unknown staff key 'ghost'",
        ),
        (
            {"rotations": {"primary": {"members": ["li"], "handoff": "25:00", "start": "2027-03-01"}}},
            "rotations.primary.handoff",
            "bad time",
        ),
        (
            {"rotations": {"primary": {"members": ["li"], "period": "hourly", "start": "2027-03-01"}}},
            "rotations.primary.period",
            "daily",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        (
            {
                "overrides": [
                    {
                        "rotation": "primary",
                        "staff": "li",
                        "start": "2027-03-02T10:00",
                        "end": "2027-03-02T09:00",
                    }
                ]
            },
            "overrides[0]",
            "end must be after start",
        ),
        (
            {"policies": {"urgent": {"levels": [{"notify": ["rotation:nope"], "after_seconds": 0}]}}},
            "policies.urgent.levels[0].notify",
            "names no rotation",
        ),
        ({"routing": {"urgent": "missing"}}, "routing.urgent", "unknown policy"),
        (
            {"staff": {"li": {"name": "Li", "telegram_chat_id": 1, "language": "cn"}}},
            "staff.li.language",
            "unknown language 'cn'; one of en, zh",
        ),
        (
            {"policies": {"urgent": {"levels": [{"notify": ["staff:li"]}], "rounds": 0}}},
            "policies.urgent.rounds",
            ">= 1",
        ),
    ],
)
def test_invalid_rota_names_file_entry_and_reason(change: dict[str, Any], entry: str, reason: str) -> None:
    with pytest.raises(RotaError) as info:
        parse_rota(rota(**change), "config/rota.toml")
    assert info.value.file == "config/rota.toml"
    assert info.value.entry == entry
    assert reason in info.value.reason


def test_staff_language_is_optional_and_defaults_to_english() -> None:
    raw = rota()
    raw["staff"]["li"]["language"] = "zh"
    r = parse_rota(raw)
    assert (r.staff["li"].language, r.staff["anna"].language) == ("zh", "en")
    demo = parse_rota(tomllib.loads(Path("config/rota.toml").read_text()))
    assert demo.staff["boss"].language == "zh"  # the demo's manager reads Chinese


def test_bad_keyword_pattern_is_reported() -> None:
    with pytest.raises(RotaError) as info:
        parse_keywords({"en": {"words": ["urgent"], "patterns": ["(unclosed"]}}, "kw.toml")
    assert info.value.entry == "en.patterns[0]"


def test_cli_rota_who_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    text = Path("config/rota.toml").read_text()
    tomllib.loads(text)
    # demo rota: weekly from Mon 2 Nov 2026, li then anna; Christmas override puts anna on primary
    assert main(["rota", "who", "--at", "2026-11-03T10:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "rotation primary: Li Wei (li)" in out
    assert main(["rota", "who", "--at", "2026-12-25T03:00"]) == 0
    assert "rotation primary: Anna Schmidt (anna)" in capsys.readouterr().out
    assert main(["rota", "who", "--at", "yesterday"]) == 2
    assert "--at must be an ISO 8601 time" in capsys.readouterr().err
    bad = tmp_path / "rota.toml"
    bad.write_text(text.replace('members = ["li", "anna"]', 'members = ["li", "nobody"]', 1))
    monkeypatch.setenv("AFTERSALES_ESCALATION__ROTA_FILE", str(bad))
    assert main(["rota", "who"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "rotations.primary.members" in err and "unknown staff key 'nobody'" in err


def test_escalation_settings_are_validated(tmp_path: Path) -> None:
    from config.settings import ConfigError, load_settings

    for key, value in (("max_rounds", "0"), ("relay_idle_seconds", "0"), ("ack_timeout_seconds", "-1")):
        with pytest.raises(ConfigError, match=f"escalation.{key}"):
            load_settings("config/default.toml", env={f"AFTERSALES_ESCALATION__{key.upper()}": value})
