"""The invoice's customs fields come from the records the factory keeps through the API.

The buyer's address and consignee (`PUT /api/clients/{key}`) and the order's ports and
payment terms (`PUT /api/orders/{number}`) end up on the commercial invoice a client gets
on Telegram; callers that do not know the new fields change nothing of them.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import BotHarness
from tests.fakes.orders import pdf_text
from tests.fakes.pdf import pdf_fonts
from tests.fakes.telegram import FakeTelegram, message_update

CHAT = 5550009
CLIENT = {
    "name": "Nordic Packs AB",
    "language": "en",
    "contacts": [{"channel": "telegram", "id": str(CHAT)}],
}
ORDER = {
    "client": "nordic",
    "status": "packed",
    "incoterm": "CIF Gothenburg",
    "lines": [
        {
            "sku": "DF-40",
            "description": "Duffel bag 40 L",
            "quantity": 400,
            "unit_price": 11.0,
            "currency": "EUR",
            "hs_code": "4202.92",
            "origin": "CN",
            "cartons": 20,
            "carton_cm": [55, 40, 35],
            "gross_kg": 14.0,
            "net_kg": 12.6,
        }
    ],
}


async def put(h: BotHarness, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    resp = await h.api("PUT", path, json=body)
    assert resp.status == status, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def invoice_text(h: BotHarness, fake: FakeTelegram) -> str:
    before = len(fake.sent("sendDocument"))
    await h.post_telegram(message_update(CHAT, text="commercial invoice for PO-2026-0777"))
    [call] = (await fake.wait_sent(before + 1, "sendDocument"))[before:]
    data = call.files["document"]
    assert all(f.embedded for f in pdf_fonts(data))
    return " ".join(pdf_text(data).split())


async def test_address_consignee_ports_and_terms_reach_the_invoice(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    client = {
        **CLIENT,
        "address": "Hamngatan 4, 411 06 Göteborg, Sweden",
        "consignee": "Nordic Packs Lager, Importgatan 9, 422 46 Hisings Backa, Sweden",
    }
    got = await put(tg_bot, "/api/clients/nordic", client, 201)
    assert got["address"] == client["address"] and got["consignee"] == client["consignee"]
    order = {
        **ORDER,
        "port_of_loading": "Ningbo, China",
        "port_of_discharge": "Gothenburg, Sweden",
        "payment_terms": "L/C at sight",
    }
    body = await put(tg_bot, "/api/orders/PO-2026-0777", order, 201)
    assert (body["port_of_loading"], body["port_of_discharge"], body["payment_terms"]) == (
        "Ningbo, China",
        "Gothenburg, Sweden",
        "L/C at sight",
    )
    text = await invoice_text(tg_bot, fake_telegram)
    assert "Nordic Packs AB Hamngatan 4, 411 06 Göteborg, Sweden" in text
    assert "Nordic Packs Lager, Importgatan 9, 422 46 Hisings Backa, Sweden" in text
    assert "Port of loading / 装运港 Ningbo, China" in text
    assert "Port of discharge / 卸货港 Gothenburg, Sweden" in text
    assert "Payment terms / 付款方式 L/C at sight" in text and "CIF Gothenburg" in text
    assert "Total amount / 总金额: EUR 4,400.00" in text
    assert "C/NO. 1-20 MADE IN CHINA 20 cartons 252.00 kg 280.00 kg" in text
    assert "Aftersales Bag Manufacturing Co., Ltd." in text  # the seller of config/demo.toml


async def test_callers_that_omit_the_new_fields_keep_them_and_null_clears(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await put(tg_bot, "/api/clients/nordic", {**CLIENT, "address": "Hamngatan 4, Göteborg"}, 201)
    await put(tg_bot, "/api/orders/PO-2026-0777", {**ORDER, "port_of_loading": "Ningbo"}, 201)
    # an older caller: the shapes as they were, without the new keys
    assert (await put(tg_bot, "/api/clients/nordic", {**CLIENT, "name": "Nordic AB"}))["address"] == (
        "Hamngatan 4, Göteborg"
    )
    assert (await put(tg_bot, "/api/orders/PO-2026-0777", {"status": "packed"}))[
        "port_of_loading"
    ] == "Ningbo"
    text = await invoice_text(tg_bot, fake_telegram)
    assert "Nordic AB Hamngatan 4, Göteborg" in text and "Port of loading / 装运港 Ningbo" in text
    assert "Same as buyer / 同买方" in text and "Payment terms / 付款方式 -" in text
    cleared = await put(tg_bot, "/api/clients/nordic", {**CLIENT, "address": None})
    assert cleared["address"] is None and cleared["consignee"] is None
    assert (await put(tg_bot, "/api/orders/PO-2026-0777", {"port_of_loading": ""}))["port_of_loading"] is None


async def test_bad_values_for_the_new_fields_are_422_naming_them(tg_bot: BotHarness) -> None:
    await put(tg_bot, "/api/clients/nordic", CLIENT, 201)
    for body, field in (
        ({**CLIENT, "address": 42}, "address"),
        ({**CLIENT, "consignee": "x" * 1001}, "consignee"),
    ):
        resp = await tg_bot.api("PUT", "/api/clients/nordic", json=body)
        assert resp.status == 422 and (await resp.json())["field"] == field
    for body, field in (
        ({**ORDER, "port_of_loading": ["Ningbo"]}, "port_of_loading"),
        ({**ORDER, "payment_terms": "x" * 129}, "payment_terms"),
    ):
        resp = await tg_bot.api("PUT", "/api/orders/PO-2026-0777", json=body)
        assert resp.status == 422 and (await resp.json())["field"] == field
    assert (await tg_bot.api("GET", "/api/orders/PO-2026-0777")).status == 404  # nothing written
    got = await (await tg_bot.api("GET", "/api/clients/nordic")).json()
    assert got["address"] is None
