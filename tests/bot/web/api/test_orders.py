"""Orders and clients API: validation (422 naming the field, nothing written), events, notices, spares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from storage.models import Message, Order, OrderEvent
from tests.conftest import BotHarness
from tests.fakes.orders import outbox_rows
from tests.fakes.telegram import FakeTelegram

ACME_CHAT = 5550001
HAILANG_CHAT = 5550002


def new_order(**changes: Any) -> dict[str, Any]:
    line = {
        "sku": "BP-330", "description": "Rolltop backpack", "material": "TPU coated nylon", "quantity": 1000,
        "unit_price": 12.0, "currency": "USD", "hs_code": "4202.92", "origin": "CN",
        "packaging": "polybag, 10 pcs per carton", "cartons": 100, "carton_cm": [55, 40, 35],
        "gross_kg": 9.0, "net_kg": 8.0,
    }  # fmt: skip
    body: dict[str, Any] = {
        "client": "acme", "status": "confirmed", "pi_number": "PI-2026-0300", "incoterm": "FOB Xiamen",
        "eta": "2027-01-15", "spare_ratio": 0.02, "lines": [line],
    }  # fmt: skip
    body.update(changes)
    return body


async def count(h: BotHarness, model: type) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_put_creates_and_get_returns_lines_spares_and_events(tg_bot: BotHarness) -> None:
    resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0300", json=new_order())
    assert resp.status == 201, await resp.text()
    resp = await tg_bot.api("GET", "/api/orders/po 2026 0300")
    body = await resp.json()
    assert body["number"] == "PO-2026-0300" and body["client"] == "acme" and body["status"] == "confirmed"
    assert body["lines"][0]["spare_units"] == 20  # ceil(1000 × 0.02)
    assert body["lines"][0]["carton_cm"] == [55, 40, 35]
    assert [(e["kind"], e["to"]) for e in body["events"]] == [("status", "confirmed"), ("eta", "2027-01-15")]
    assert body["prior_issues"] == []
    resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0300", json={"status": "in_production"})
    assert resp.status == 200
    body = await resp.json()
    assert body["events"][-1]["from"] == "confirmed" and body["events"][-1]["to"] == "in_production"
    assert body["lines"][0]["sku"] == "BP-330"  # lines kept when not given


async def test_spare_ratio_bounds(tg_bot: BotHarness) -> None:
    cases = [(0.02, 1001, 21), (0.05, 1000, 50), (0.05, 999, 50), (0, 1000, 0), (0.03, 2000, 60)]
    for i, (ratio, qty, spares) in enumerate(cases):
        line = {**new_order()["lines"][0], "quantity": qty}
        resp = await tg_bot.api(
            "PUT", f"/api/orders/SP-2026-{i:04d}", json=new_order(spare_ratio=ratio, lines=[line])
        )
        assert resp.status == 201, (ratio, await resp.text())
        assert (await resp.json())["lines"][0]["spare_units"] == spares, (ratio, qty)
    orders_before = await count(tg_bot, Order)
    for ratio in (0.019, 0.051, 0.01, 0.1, -0.02, "3%"):
        resp = await tg_bot.api("PUT", "/api/orders/SP-2026-9999", json=new_order(spare_ratio=ratio))
        assert resp.status == 422, ratio
        assert (await resp.json())["field"] == "spare_ratio"
    assert await count(tg_bot, Order) == orders_before
    assert (await tg_bot.api("GET", "/api/orders/SP-2026-9999")).status == 404


async def test_invalid_values_are_422_naming_the_field_and_write_nothing(tg_bot: BotHarness) -> None:
    line = new_order()["lines"][0]
    bad = [
        (new_order(status="sailing"), "status"),
        (new_order(client="nobody"), "client"),
        (new_order(eta="20/12/2026"), "eta"),
        (new_order(lines=[{**line, "quantity": -5}]), "lines[0].quantity"),
        (new_order(lines=[{**line, "hs_code": "42AB.92"}]), "lines[0].hs_code"),
        (new_order(lines=[{**line, "hs_code": "420"}]), "lines[0].hs_code"),
        (new_order(lines=[line, {**line, "quantity": 5}]), "lines[1].sku"),
        (new_order(lines=[{**line, "net_kg": 10.0}]), "lines[0].net_kg"),
        (new_order(lines=[{**line, "currency": "dollars"}]), "lines[0].currency"),
        (new_order(lines=[]), "lines"),
        (new_order(status="shipped"), "carrier"),
    ]
    events_before = await count(tg_bot, OrderEvent)
    for body, field in bad:
        resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0301", json=body)
        assert resp.status == 422, (field, await resp.text())
        assert (await resp.json())["field"] == field
    assert (await tg_bot.api("GET", "/api/orders/PO-2026-0301")).status == 404
    # an existing order: a rejected update changes nothing, not even part of it
    resp = await tg_bot.api(
        "PUT", "/api/orders/PO-2026-0117", json={"status": "packed", "lines": [{**line, "quantity": -1}]}
    )
    assert resp.status == 422
    body = await (await tg_bot.api("GET", "/api/orders/PO-2026-0117")).json()
    assert body["status"] == "in_production" and [ln["sku"] for ln in body["lines"]] == ["BP-220", "TB-105"]
    assert await count(tg_bot, OrderEvent) == events_before
    resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0301", data=b"{nope")
    assert resp.status == 400
    resp = await tg_bot.client.put("/api/orders/PO-2026-0301", json=new_order())
    assert resp.status == 401


async def test_shipped_notice_reaches_every_contact_once(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    change = {"status": "shipped", "carrier": "COSCO", "tracking": "COSU6312345678"}
    resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0117", json=change)
    assert resp.status == 200, await resp.text()
    await fake_telegram.wait_for(lambda f: f.texts_to(ACME_CHAT))
    [notice] = fake_telegram.texts_to(ACME_CHAT)
    assert "PO-2026-0117 has shipped" in notice and "COSCO" in notice and "COSU6312345678" in notice
    assert "2026-12-20" in notice
    rows = await outbox_rows(tg_bot, kind="notice")
    # all four demo contacts of acme, each on its own channel; nothing to hailang
    assert sorted((r.channel, r.channel_user_id) for r in rows) == [
        ("email", "buyer@acme.example"),
        ("telegram", "5550001"),
        ("wechat", "oAbC123openid"),
        ("whatsapp", "whatsapp:+491701234567"),
    ]
    assert not fake_telegram.texts_to(HAILANG_CHAT)
    # each notice is part of its contact's conversation, where staff see it
    async with tg_bot.db.read() as s:
        convs = [(await s.get(Message, r.message_id)).conversation_id for r in rows]  # type: ignore[union-attr]
    assert all(convs) and len(set(convs)) == 4
    # the same PUT again changes nothing and notifies nobody again
    resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0117", json=change)
    assert resp.status == 200
    assert len(await outbox_rows(tg_bot, kind="notice")) == 4


async def test_eta_move_and_delivery_notices_in_the_clients_language(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    resp = await tg_bot.api("PUT", "/api/orders/HL-2026-0032", json={"eta": "2026-12-28"})
    assert resp.status == 200
    await fake_telegram.wait_for(lambda f: len(f.texts_to(HAILANG_CHAT)) >= 1)
    assert "预计到达时间已由 2026-12-15 调整为 2026-12-28" in fake_telegram.texts_to(HAILANG_CHAT)[0]
    resp = await tg_bot.api(
        "PUT",
        "/api/orders/HL-2026-0032",
        json={"status": "shipped", "carrier": "顺丰", "tracking": "SF1234567890"},
    )
    await fake_telegram.wait_for(lambda f: len(f.texts_to(HAILANG_CHAT)) >= 2)
    assert (
        "已发货" in fake_telegram.texts_to(HAILANG_CHAT)[1]
        and "SF1234567890" in fake_telegram.texts_to(HAILANG_CHAT)[1]
    )
    resp = await tg_bot.api("PUT", "/api/orders/HL-2026-0032", json={"status": "delivered"})
    await fake_telegram.wait_for(lambda f: len(f.texts_to(HAILANG_CHAT)) >= 3)
    assert "HL-2026-0032 已送达" in fake_telegram.texts_to(HAILANG_CHAT)[2]
    body = await (await tg_bot.api("GET", "/api/orders/HL-2026-0032")).json()
    kinds = [(e["kind"], e["to"]) for e in body["events"]]
    assert (
        ("eta", "2026-12-28") in kinds and ("status", "shipped") in kinds and ("status", "delivered") in kinds
    )
    assert body["tracking"] == "SF1234567890"  # kept when the delivered update did not repeat it


async def test_clients_put_and_get(tg_bot: BotHarness) -> None:
    body = {
        "name": "Nordic Packs AB",
        "language": "en",
        "email_domains": ["nordic.example"],
        "contacts": [
            {"channel": "telegram", "id": "5550009"},
            {"channel": "email", "id": "Ops@Nordic.example"},
        ],
    }
    resp = await tg_bot.api("PUT", "/api/clients/nordic", json=body)
    assert resp.status == 201, await resp.text()
    got = await (await tg_bot.api("GET", "/api/clients/nordic")).json()
    assert got["name"] == "Nordic Packs AB" and got["email_domains"] == ["nordic.example"]
    assert {"channel": "email", "id": "ops@nordic.example"} in got["contacts"]
    resp = await tg_bot.api("PUT", "/api/clients/nordic", json={**body, "name": "Nordic Packs"})
    assert resp.status == 200
    for bad, field in (
        ({**body, "language": "de"}, "language"),
        ({**body, "contacts": [{"channel": "fax", "id": "1"}]}, "contacts[0].channel"),
        ({**body, "email_domains": ["not a domain"]}, "email_domains"),
        ({k: v for k, v in body.items() if k != "name"}, "name"),
    ):
        resp = await tg_bot.api("PUT", "/api/clients/nordic", json=bad)
        assert resp.status == 422 and (await resp.json())["field"] == field
    got = await (await tg_bot.api("GET", "/api/clients/nordic")).json()
    assert got["name"] == "Nordic Packs" and got["language"] == "en"
    assert (await tg_bot.api("GET", "/api/clients/nobody")).status == 404
