"""Escalation climbs end to end: real webhook, real scheduler, staff phones on the fake Telegram Bot API."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.models import Alert, Escalation
from tests.conftest import BotHarness, wait_until
from tests.fakes.oncall import (
    ACME_CHAT,
    ANNA,
    BOSS,
    HAILANG_CHAT,
    LI,
    Clock,
    alert_message_id,
    alert_rows,
    alerts_to,
    escalation,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, callback_update, message_update


async def test_urgent_chinese_message_pages_level1_at_once_and_level2_after_its_delay(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    rota = write_rota(tmp_path, level2=2)
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, rota))
    try:
        await h.post_telegram(message_update(HAILANG_CHAT, text="紧急！我们的货柜在海关被扣了，请马上处理"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI), timeout=3)
        [page] = alerts_to(fake_telegram, LI)
        assert "ESC-000001" in page and "URGENT" in page and "海关" in page and "海浪箱包" in page
        assert alerts_to(fake_telegram, ANNA) == []  # level 2 waits for its delay
        # the client is told a person was alerted (in Chinese), and the bot still answers
        await fake_telegram.wait_for(lambda f: any("值班同事" in t for t in f.texts_to(HAILANG_CHAT)))
        li_call = next(c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(LI))
        assert "esc:ack:1" in str(li_call.params["reply_markup"])
        await fake_telegram.wait_for(lambda f: alerts_to(f, ANNA), timeout=6)
        anna_call = next(
            c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(ANNA)
        )
        assert anna_call.at - li_call.at >= 1.5  # the delay was honoured (2 s, one tick of slack)
        esc = await escalation(h)
        assert (esc.state, esc.level, esc.round, esc.priority) == ("open", 2, 1, "urgent")
        async with h.db.read() as s:
            conv_priority = (
                await s.execute(select(func.count()).select_from(Alert).where(Alert.escalation_id == 1))
            ).scalar_one()
        assert conv_priority == 2
    finally:
        await h.close()


async def test_button_acknowledge_stops_the_climb_and_edits_the_alert(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    clock = Clock()
    h = await start_bot(
        escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)), clock
    )
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="URGENT: container stuck at the port"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        await h.settled()
        alert_id = await alert_message_id(h, "li")
        resp = await h.post_telegram(callback_update(LI, "esc:ack:1", message_id=alert_id))
        assert (await resp.json())["method"] == "answerCallbackQuery"
        edits = await fake_telegram.wait_sent(1, "editMessageText")
        assert str(edits[0].params["message_id"]) == str(alert_id)
        assert "Acknowledged by Li Wei" in edits[0].params["text"]
        assert "esc:ack" not in str(edits[0].params.get("reply_markup"))  # only Resolve is left
        esc = await escalation(h)
        assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li")
        clock.advance(3600)  # long past level 2 and every round
        assert await h.runtime.escalation.jobs.tick() == 0  # type: ignore[union-attr]
        await h.settled()
        assert alerts_to(fake_telegram, ANNA) == []
        assert await alert_rows(h) == [(1, "li", 1, 1)]
    finally:
        await h.close()


async def test_acknowledge_by_command_number_full_id_reply_and_api(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    clock = Clock()
    h = await start_bot(
        escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)), clock
    )
    try:
        clients = [ACME_CHAT, HAILANG_CHAT, 5550010, 5550011]
        for chat in clients:
            await h.post_telegram(message_update(chat, text="emergency, please call me asap"))

        async def four() -> bool:
            return await _count(h, Escalation) == 4

        await wait_until(four)
        await h.settled()
        await h.post_telegram(message_update(LI, text="/ack 1"))
        await h.post_telegram(message_update(LI, text="/ack ESC-000002"))
        await h.post_telegram(
            message_update(LI, text="ack", reply_to_message_id=await alert_message_id(h, "li", 3))
        )
        resp = await h.api("POST", "/api/escalations/4/ack", json={"staff": "li"})
        assert resp.status == 200 and (await resp.json())["state"] == "acknowledged"
        await h.settled()
        for esc_id in (1, 2, 3, 4):
            esc = await escalation(h, esc_id)
            assert (esc.state, esc.acknowledged_by) == ("acknowledged", "li"), esc_id
        assert any("You have ESC-000001" in t for t in fake_telegram.texts_to(LI))
        clock.advance(3600)
        await h.runtime.escalation.jobs.tick()  # type: ignore[union-attr]
        await h.settled()
        assert alerts_to(fake_telegram, ANNA) == []
        # a second ack is answered, not applied twice
        await h.post_telegram(message_update(ANNA, text="/ack 1"))
        await h.settled()
        assert any("already acknowledged by li" in t for t in fake_telegram.texts_to(ANNA))
    finally:
        await h.close()


async def test_rounds_then_final_all_hands_alert_and_it_stays_open(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    clock = Clock()
    rota = write_rota(tmp_path, level2=10, rounds=2, timeout=20)  # a round lasts 30 s
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, rota), clock)
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="urgent!"))
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 1)
        clock.advance(11)
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, ANNA)) == 1)  # the real tick moves it on
        clock.advance(20)
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 2)  # round 2, level 1
        clock.advance(10)
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, ANNA)) == 2)
        clock.advance(20)
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 3 and len(alerts_to(f, ANNA)) == 3)
        assert "alerting everyone" in alerts_to(fake_telegram, LI)[-1]
        assert await alert_rows(h) == [
            (1, "li", 1, 1),
            (1, "anna", 2, 1),
            (1, "li", 1, 2),
            (1, "anna", 2, 2),
            (1, "li", 3, 2),
            (1, "anna", 3, 2),
        ]
        esc = await escalation(h)
        assert esc.state == "open" and esc.final_alert_sent and esc.next_due_at is None
        clock.advance(3600)
        assert await h.runtime.escalation.jobs.tick() == 0  # type: ignore[union-attr]
        assert fake_telegram.texts_to(BOSS) == []  # not in this policy
    finally:
        await h.close()


async def test_restart_mid_climb_resumes_without_duplicate_or_skipped_page(
    tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    """Two app instances on one SQLite file: the first pages level 1 and is shut down, the second goes on."""
    clock = Clock()
    settings = escalation_settings(tmp_path, any_db_url, fake_telegram, write_rota(tmp_path, level2=30))
    first = await start_bot(settings, clock)
    try:
        await first.post_telegram(message_update(ACME_CHAT, text="urgent: customs hold on PO-2026-0117"))
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 1)
        await first.settled()
    finally:
        await first.close()
    clock.advance(45)  # level 2 fell due while nothing was running
    second = await start_bot(settings, clock)
    try:
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, ANNA)) == 1)
        await second.settled()
        clock.advance(5)
        await second.runtime.escalation.jobs.tick()  # type: ignore[union-attr]
        await second.settled()
        assert len(alerts_to(fake_telegram, LI)) == 1
        assert len(alerts_to(fake_telegram, ANNA)) == 1
        assert await alert_rows(second) == [(1, "li", 1, 1), (1, "anna", 2, 1)]
        assert (await escalation(second)).level == 2
    finally:
        await second.close()


async def _count(h: BotHarness, model: type) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


class _Broken:
    """A responder with a bug: the engine must apologise and hand the client to a person."""

    name = "broken"
    observer = False

    def matches(self, ctx: object) -> bool:
        return getattr(ctx, "text", "") == "trigger the bug"

    async def handle(self, ctx: object) -> object:
        raise RuntimeError("bug")


async def test_handler_failure_pages_the_on_call_person(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        h.runtime.engine.handlers.insert(0, _Broken())  # type: ignore[arg-type]
        await h.post_telegram(message_update(ACME_CHAT, text="trigger the bug"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        assert "Bot failed on a message" in alerts_to(fake_telegram, LI)[0]
        assert any("something went wrong" in t for t in fake_telegram.texts_to(ACME_CHAT))
        assert (await escalation(h)).reason == "handler_failed"
    finally:
        await h.close()


async def test_two_running_instances_page_each_level_once(
    tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    """Both schedulers tick against one database; due rows are taken by one of them (SKIP LOCKED on PG)."""
    clock = Clock()
    settings = escalation_settings(tmp_path, any_db_url, fake_telegram, write_rota(tmp_path, level2=5))
    a = await start_bot(settings, clock)
    b = await start_bot(settings, clock)
    try:
        for chat in (ACME_CHAT, HAILANG_CHAT, 5550020, 5550021, 5550022):
            await a.post_telegram(message_update(chat, text="urgent"))
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 5)
        clock.advance(6)
        await fake_telegram.wait_for(lambda f: len(alerts_to(f, ANNA)) == 5)
        clock.advance(30)
        await a.runtime.escalation.jobs.tick()  # type: ignore[union-attr]
        await b.runtime.escalation.jobs.tick()  # type: ignore[union-attr]
        await a.settled()
        await b.settled()
        assert len(alerts_to(fake_telegram, LI)) == 5 and len(alerts_to(fake_telegram, ANNA)) == 5
        rows = await alert_rows(a)
        assert len(rows) == len(set(rows)) == 10
    finally:
        await a.close()
        await b.close()


async def test_the_alert_names_the_clients_own_order_and_not_another_clients(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    from datetime import date

    from bot.ids import order_key
    from storage.models import Order
    from storage.repos.clients import get_client

    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        async with h.db.write() as s:
            acme, hailang = await get_client(s, "acme"), await get_client(s, "hailang")
            assert acme is not None and hailang is not None
            existing = set((await s.execute(select(Order.number))).scalars())  # the demo seed has some
            for number, client in (("PO-2026-0117", acme), ("HL-2026-0999", hailang)):
                if number in existing:
                    continue
                s.add(
                    Order(
                        number=number,
                        number_key=order_key(number),
                        client_id=client.id,
                        status="in_production",
                        eta=date(2026, 12, 20),
                    )
                )
        await h.post_telegram(
            message_update(ACME_CHAT, text="URGENT: po 2026 0117 and HL-2026-0999 are late")
        )
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        page = alerts_to(fake_telegram, LI)[0]
        assert "Order: PO-2026-0117 (in_production, ETA 2026-12-20)" in page
        assert "HL-2026-0999 (" not in page  # another client's order is never shown as theirs
    finally:
        await h.close()


async def test_two_people_acknowledging_at_once_on_two_instances_gives_one_owner(
    tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    import asyncio

    settings = escalation_settings(tmp_path, any_db_url, fake_telegram, write_rota(tmp_path, level2=0))
    a = await start_bot(settings)
    b = await start_bot(settings)
    try:
        await a.post_telegram(message_update(ACME_CHAT, text="urgent"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI) and alerts_to(f, ANNA))
        await asyncio.gather(
            a.post_telegram(message_update(LI, text="/ack 1")),
            b.post_telegram(message_update(ANNA, text="/ack 1")),
        )
        await a.settled()
        await b.settled()
        taken = [t for c in (LI, ANNA) for t in fake_telegram.texts_to(c) if "You have ESC-000001" in t]
        refused = [t for c in (LI, ANNA) for t in fake_telegram.texts_to(c) if "already acknowledged" in t]
        assert len(taken) == 1 and len(refused) == 1
        esc = await escalation(a)
        assert esc.state == "acknowledged" and esc.acknowledged_by in {"li", "anna"}
    finally:
        await a.close()
        await b.close()
