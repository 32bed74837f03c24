"""`GET /api/calendar`: holidays and closures in a range, through the real app on a real port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import BotHarness, make_settings
from tests.fakes.calendar import with_calendar, write_calendar


@pytest_asyncio.fixture
async def bot(harness_factory: Any, tmp_path: Path, db_url: str) -> BotHarness:
    h: BotHarness = await harness_factory(
        with_calendar(make_settings(tmp_path, db_url), write_calendar(tmp_path))
    )
    return h


async def test_lists_holidays_and_closures_in_the_range(bot: BotHarness) -> None:
    resp = await bot.api("GET", "/api/calendar?from=2027-02-01&to=2027-02-28")
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert {
        "name": "Chinese New Year",
        "start": "2027-02-04",
        "end": "2027-02-14",
        "kind": "closure",
    } in items
    spring = [
        i for i in items if i["kind"] == "holiday" and i["name"] == "Chinese New Year (Spring Festival)"
    ]
    assert spring == [
        {
            "name": "Chinese New Year (Spring Festival)",
            "start": "2027-02-06",
            "end": "2027-02-08",
            "kind": "holiday",
        }
    ]
    assert all(set(i) == {"name", "start", "end", "kind"} for i in items)
    assert [i["start"] for i in items] == sorted(i["start"] for i in items)
    assert not any(i["name"] == "Golden Week" for i in items)  # October: outside the range


async def test_a_closure_overlapping_the_range_is_listed_whole(bot: BotHarness) -> None:
    resp = await bot.api("GET", "/api/calendar?from=2027-10-05&to=2027-10-05")
    items = (await resp.json())["items"]
    assert {"name": "Golden Week", "start": "2027-10-01", "end": "2027-10-07", "kind": "closure"} in items
    assert {
        "name": "National Day (observed)",
        "start": "2027-10-05",
        "end": "2027-10-05",
        "kind": "holiday",
    } in items


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2027-02-30&to=2027-03-01", "from"),
        ("from=tomorrow&to=2027-03-01", "from"),
        ("from=2027-02-01&to=2027/03/01", "to"),
        ("from=2027-03-01&to=2027-02-01", "to"),  # ends before it starts
        ("from=2027-01-01&to=2029-01-02", "to"),  # more than two years
    ],
)
async def test_bad_dates_and_ranges_are_400_with_the_error_shape(
    bot: BotHarness, query: str, field: str
) -> None:
    resp = await bot.api("GET", f"/api/calendar?{query}")
    assert resp.status == 400
    body = await resp.json()
    assert body["field"] == field and body["error"]


async def test_two_years_exactly_and_the_default_range_are_answered(bot: BotHarness) -> None:
    resp = await bot.api("GET", "/api/calendar?from=2027-01-01&to=2028-12-31")
    assert resp.status == 200
    names = {i["name"] for i in (await resp.json())["items"]}
    assert {"Chinese New Year", "Golden Week", "National Day"} <= names
    resp = await bot.api("GET", "/api/calendar")  # from today, a year on
    assert resp.status == 200
    assert isinstance((await resp.json())["items"], list)


async def test_without_the_bearer_token_401(bot: BotHarness) -> None:
    resp = await bot.client.get("/api/calendar?from=2027-02-01&to=2027-02-28")
    assert resp.status == 401
    resp = await bot.api(
        "GET", "/api/calendar?from=2027-02-01&to=2027-02-28", headers={"Authorization": "Bearer x"}
    )
    assert resp.status == 401
