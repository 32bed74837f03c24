"""An order whose ETA falls in a factory closure, or within 7 days after it, says so in its status answer
(real webhook and fake Bot API; the order's ETA is moved through the real orders API)."""

from __future__ import annotations

from pathlib import Path

import pytest_asyncio

from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.fakes.calendar import with_calendar, write_calendar
from tests.fakes.telegram import FakeTelegram, message_update

ACME_CHAT = 5550001  # demo client "acme": PO-2026-0117 in production, PO-2026-0098 shipped
NOTE = "Note: the factory is closed for Chinese New Year from 2027-02-04 to 2027-02-14 (reopening 2027-02-15)"


@pytest_asyncio.fixture
async def bot(harness_factory, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram):  # type: ignore[no-untyped-def]
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    h = await harness_factory(with_calendar(settings, write_calendar(tmp_path)))
    await seed(h.db)
    return h


async def status_with_eta(
    h: BotHarness, fake: FakeTelegram, eta: str, number: str = "PO-2026-0117", ask: str = "{} status"
) -> str:
    resp = await h.api("PUT", f"/api/orders/{number}", json={"eta": eta})
    assert resp.status == 200, await resp.text()
    await h.settled()  # the ETA-moved notice goes out first
    before = len(fake.texts_to(ACME_CHAT))
    await h.post_telegram(message_update(ACME_CHAT, text=ask.format(number)))
    await fake.wait_for(lambda f: len(f.texts_to(ACME_CHAT)) > before)
    return fake.texts_to(ACME_CHAT)[-1]


async def test_eta_inside_a_closure_is_flagged(bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    reply = await status_with_eta(bot, fake_telegram, "2027-02-10")
    assert "ETA: 2027-02-10" in reply
    assert NOTE in reply and "the date may move" in reply


async def test_eta_within_a_week_after_a_closure_is_flagged(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    reply = await status_with_eta(bot, fake_telegram, "2027-02-21")  # 7 days after the last closed day
    assert NOTE in reply


async def test_eta_well_clear_of_closures_has_no_note(bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    asks = ("{} status", "where is {}?", "{} eta please")  # three different questions: not a repeat
    for eta, ask in zip(("2027-02-22", "2027-02-03", "2026-12-20"), asks, strict=True):
        reply = await status_with_eta(bot, fake_telegram, eta, ask=ask)  # 8 days after; the day before
        assert f"ETA: {eta}" in reply
        assert "factory is closed" not in reply, eta


async def test_a_delivered_order_gets_no_note(bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    resp = await bot.api("PUT", "/api/orders/PO-2026-0098", json={"status": "delivered"})
    assert resp.status == 200, await resp.text()
    reply = await status_with_eta(bot, fake_telegram, "2027-02-10", number="PO-2026-0098")
    assert "Delivered" in reply and "factory is closed" not in reply
