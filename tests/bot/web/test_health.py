"""/healthz names the process and what it leads; a draining process says 503 and refuses webhooks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from config.settings import ClusterSettings
from storage.models import Message
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, message_update


async def test_healthz_names_the_instance_and_its_roles_then_drains(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = replace(
        make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram)),
        cluster=ClusterSettings(instance="web-1"),
    )
    h: BotHarness = await harness_factory(settings)
    resp = await h.client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert body["instance"] == "web-1" and body["leads"] == ["calendar", "cleanup"]  # SQLite: one process

    h.runtime.health.draining = True  # what SIGTERM does first
    resp = await h.client.get("/healthz")
    assert resp.status == 503 and (await resp.json())["status"] == "stopping"
    refused = await h.post_telegram(message_update(42, text="hello"))
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    async with h.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 0
    api = await h.api("GET", "/api/conversations")
    assert api.status == 200  # staff tools keep working while the balancer moves traffic


async def test_metrics_report_roles_led_and_unacknowledged_escalations(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    h: BotHarness = await harness_factory(settings)
    await h.post_telegram(message_update(77, text="URGENT: container stuck at the port"))
    await h.settled()
    text = await (await h.client.get("/metrics")).text()
    assert 'aftersales_leader{role="calendar"} 1.0' in text
    assert "aftersales_escalations_unacknowledged 1.0" in text
    assert 'aftersales_outbox_depth{state="sent"}' in text
