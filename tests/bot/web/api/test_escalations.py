"""GET /api/escalations, POST /api/escalations/{id}/ack, GET /api/oncall, /healthz coverage gaps, /metrics."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.oncall import (
    ACME_CHAT,
    ANNA,
    LI,
    alerts_to,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, message_update


async def test_escalations_api_list_ack_and_errors(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="urgent: customs hold"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        await h.settled()
        resp = await h.api("GET", "/api/escalations")
        assert resp.status == 200
        body = await resp.json()
        [item] = body["items"]
        assert body["next"] is None
        assert item["id"] == "ESC-000001" and item["reason"] == "urgent" and item["priority"] == "urgent"
        assert (item["state"], item["level"], item["round"], item["policy"]) == ("open", 1, 1, "urgent")
        assert item["alerts"][0]["staff"] == "li" and item["alerts"][0]["channel"] == "telegram"
        assert body["stats"]["urgent"]["by_state"] == {"open": 1}

        assert (await h.api("POST", "/api/escalations/1/ack", json={"staff": "ghost"})).status == 422
        assert (await h.api("POST", "/api/escalations/1/ack", data=b"{nope")).status == 400
        assert (await h.api("POST", "/api/escalations/99/ack", json={"staff": "li"})).status == 404
        assert (await h.api("POST", "/api/escalations/ESC-000001/ack", json={"staff": "anna"})).status == 200
        again = await h.api("POST", "/api/escalations/1/ack", json={"staff": "li"})
        assert again.status == 409 and (await again.json())["field"] == "state"
        await fake_telegram.wait_for(
            lambda f: any(
                "Acknowledged by Anna Schmidt" in str(c.params.get("text")) for c in f.sent("editMessageText")
            )
        )
        item = (await (await h.api("GET", "/api/escalations?state=acknowledged")).json())["items"][0]
        assert item["acknowledged_by"] == "anna" and item["acknowledged_at"]
        assert (await (await h.api("GET", "/api/escalations?state=open")).json())["items"] == []
        assert (await h.api("GET", "/api/escalations?state=bogus")).status == 422
        assert (await h.client.get("/api/escalations")).status == 401

        metrics = await (await h.client.get("/metrics")).text()
        assert 'aftersales_escalation_pages_total{channel="telegram",policy="urgent"} 1.0' in metrics
        assert 'aftersales_escalation_levels_reached_total{level="1",policy="urgent"} 1.0' in metrics
        assert 'aftersales_escalation_ack_seconds_count{policy="urgent"} 1.0' in metrics
        assert alerts_to(fake_telegram, ANNA) == []
    finally:
        await h.close()


async def test_oncall_api_and_healthz_report_coverage_gaps(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    rota = Path(write_rota(tmp_path))
    # the secondary rotation only starts in 2099: a gap the urgent policy would hit
    rota.write_text(
        rota.read_text().replace('start = "2026-01-05"\n\n[policies', 'start = "2099-01-05"\n\n[policies')
    )
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, str(rota)))
    try:
        body = await (await h.api("GET", "/api/oncall?at=2026-06-01T10:00:00%2B08:00")).json()
        assert body["rotations"]["primary"]["staff"] == "li"
        assert body["rotations"]["secondary"]["staff"] is None
        assert body["policies"]["urgent"][0] == {"level": 1, "notify": ["rotation:primary"], "staff": ["li"]}
        assert (await h.api("GET", "/api/oncall?at=tomorrow")).status == 400
        health = await (await h.client.get("/healthz")).json()
        gaps = health["details"]["escalation"]["coverage_gaps"]
        assert health["status"] == "ok"
        assert [g["rotation"] for g in gaps] == ["secondary"]
    finally:
        await h.close()
