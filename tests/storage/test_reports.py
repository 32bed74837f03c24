"""Report figures on SQLite and PostgreSQL, checked against claims, orders and escalations of known times."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.tools.demo import seed
from storage.db import Database
from storage.repos.reports import claim_report, escalation_report, percentile
from tests.report_fixtures import EXPECTED_CLAIMS, EXPECTED_ESCALATIONS, seed_claims, seed_escalations

SINCE = datetime(2026, 3, 1, tzinfo=UTC)


def test_nearest_rank_percentiles() -> None:
    assert percentile([600, 60, 120], 50) == 120 and percentile([600, 60, 120], 90) == 600
    assert percentile([60, 120], 50) == 60 and percentile([60, 120], 90) == 120
    assert percentile([7.5], 50) == 7.5 and percentile([7.5], 90) == 7.5
    assert percentile(list(range(1, 11)), 90) == 9 and percentile(list(range(1, 11)), 50) == 5
    assert percentile([], 50) is None


async def test_reports_on_each_database(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        async with db.read() as s:  # nothing yet: counts of zero, no percentiles
            empty = (await escalation_report(s, SINCE)).as_json()
            no_claims = (await claim_report(s, SINCE)).as_json()
        assert empty["count"] == 0 and empty["mtta_seconds"] == {"p50": None, "p90": None}
        assert empty["by_reason"] == {}
        assert no_claims["count"] == 0 and no_claims["cycle_days"] == {"p50": None, "p90": None}
        assert no_claims["defect_rate_by_sku"] == {}

        await seed(db)
        await seed_claims(db)
        await seed_escalations(db)
        async with db.read() as s:
            escalations = (await escalation_report(s, SINCE)).as_json()
            claims = (await claim_report(s, SINCE)).as_json()
            everything = (await claim_report(s)).as_json()
            all_escalations = (await escalation_report(s)).as_json()
        assert escalations == EXPECTED_ESCALATIONS
        assert claims == EXPECTED_CLAIMS
        # without a date: the claim and the shipment before the window count too
        assert everything["count"] == 6 and everything["cycle_days"] == {"p50": 1.0, "p90": 5.0}
        assert everything["by_sku"]["BP-220"] == {"claims": 4, "units_shipped": 3000, "defect_rate": 0.001333}
        assert all_escalations["count"] == 5 and all_escalations["mtta_seconds"] == {
            "p50": 60.0,
            "p90": 600.0,
        }
    finally:
        await db.dispose()
