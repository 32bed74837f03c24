"""GET /api/reports/escalations and /api/reports/claims through the real app, and the MTTA histogram.

The escalations are opened and acknowledged through the escalation service and the real ack
endpoint, on a stopped clock the test moves, so every response time is known to the second.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from escalation.service import EscalationService
from storage.repos import escalations as esc_repo
from tests.fakes.oncall import escalation_settings, start_bot, write_rota
from tests.fakes.telegram import FakeTelegram
from tests.report_fixtures import (
    ESCALATIONS,
    EXPECTED_CLAIMS,
    EXPECTED_ESCALATIONS,
    SINCE,
    seed_claims,
)


class StoppedClock:
    """Time stands still until the test sets it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_reports_api_figures_auth_and_bad_dates(
    tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    clock = StoppedClock(ESCALATIONS[0][1])
    rota = write_rota(tmp_path, level2=100_000)
    h = await start_bot(escalation_settings(tmp_path, any_db_url, fake_telegram, rota), clock)
    service: EscalationService = h.runtime.escalation.service
    try:
        # open each at its time; then acknowledge (the API) and resolve (the service) in time order
        steps: list[tuple[datetime, str, int]] = []
        for reason, opened, ack, fix in ESCALATIONS:
            clock.at = opened
            async with h.db.write() as s:
                esc = await service.escalate(s, None, reason, priority="urgent")
                esc_id = esc.id
            if ack is not None:
                steps.append((opened + timedelta(seconds=ack), "ack", esc_id))
            if fix is not None:
                steps.append((opened + timedelta(seconds=fix), "resolve", esc_id))
        for at, action, esc_id in sorted(steps):
            clock.at = at
            if action == "ack":
                resp = await h.api("POST", f"/api/escalations/{esc_id}/ack", json={"staff": "li"})
                assert resp.status == 200, await resp.text()
            else:
                async with h.db.write() as s:
                    locked = await esc_repo.lock(s, esc_id)
                    assert locked is not None and await service.resolve(s, locked, "li", via="test")
        await seed_claims(h.db)

        resp = await h.api("GET", f"/api/reports/escalations?since={SINCE}")
        assert resp.status == 200
        assert await resp.json() == EXPECTED_ESCALATIONS
        resp = await h.api("GET", f"/api/reports/claims?since={SINCE}")
        assert resp.status == 200
        assert await resp.json() == EXPECTED_CLAIMS
        # an ISO time works as well as a date; no date means everything
        at_nine = await (await h.api("GET", "/api/reports/escalations?since=2026-03-02T09:00:00Z")).json()
        assert at_nine["count"] == 4
        assert (await (await h.api("GET", "/api/reports/escalations")).json())["count"] == 5

        for path in ("/api/reports/escalations", "/api/reports/claims"):
            assert (await h.client.get(f"{path}?since={SINCE}")).status == 401
            wrong = await h.client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status == 401
            for bad in ("yesterday", "2026-13-01", "2026-02-30"):
                resp = await h.api("GET", f"{path}?since={bad}")
                assert resp.status == 400
                body = await resp.json()
                assert body["field"] == "since" and "YYYY-MM-DD" in body["error"]

        # MTTA as a histogram: observed at each acknowledgement (urgent: 5, 60, 120 s; default: 600 s)
        metrics = await (await h.client.get("/metrics")).text()
        assert 'aftersales_escalation_ack_seconds_count{policy="urgent"} 3.0' in metrics
        assert 'aftersales_escalation_ack_seconds_sum{policy="urgent"} 185.0' in metrics
        assert 'aftersales_escalation_ack_seconds_bucket{le="60.0",policy="urgent"} 2.0' in metrics
        assert 'aftersales_escalation_ack_seconds_bucket{le="600.0",policy="default"} 1.0' in metrics
        assert 'aftersales_escalation_ack_seconds_bucket{le="300.0",policy="default"} 0.0' in metrics
        assert 'aftersales_escalation_resolve_seconds_sum{policy="urgent"} 10800.0' in metrics
    finally:
        await h.close()
