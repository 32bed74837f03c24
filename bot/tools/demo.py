"""Demo data so a newcomer can try every flow; seeding twice changes nothing."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.repos.clients import DETAIL_FIELDS, ContactRef, upsert_client

DEMO_CLIENTS = [
    {
        "key": "acme",
        "name": "Acme Bags GmbH",
        "language": "en",
        "email_domains": ["acme.example"],
        "address": "Hafenstrasse 12, 20457 Hamburg, Germany",
        "consignee": "Acme Bags GmbH, Warehouse 3\nAm Lagerhaus 5, 28197 Bremen, Germany",
        "contacts": [
            ContactRef("telegram", "5550001"),
            ContactRef("whatsapp", "whatsapp:+491701234567"),
            ContactRef("wechat", "oAbC123openid"),
            ContactRef("email", "buyer@acme.example"),
        ],
    },
    {
        "key": "hailang",
        "name": "海浪箱包贸易有限公司",
        "language": "zh",
        "email_domains": ["hailang.example"],
        "address": "上海市浦东新区张杨路 500 号 18 楼",
        "contacts": [
            ContactRef("telegram", "5550002"),
            ContactRef("whatsapp", "whatsapp:+8613900000002"),
            ContactRef("wechat", "oZh456openid"),
            ContactRef("email", "caigou@hailang.example"),
        ],
    },
]


DEMO_ORDERS: dict[str, dict[str, Any]] = {
    "PO-2026-0117": {
        "client": "acme",
        "status": "in_production",
        "pi_number": "PI-2026-0117",
        "incoterm": "FOB Xiamen",
        "eta": "2026-12-20",
        "spare_ratio": 0.03,
        "port_of_loading": "Xiamen, China",
        "port_of_discharge": "Hamburg, Germany",
        "payment_terms": "30% deposit, 70% against copy of B/L",
        "lines": [
            {
                "sku": "BP-220",
                "description": "Laptop backpack 15.6in",
                "material": "600D polyester, PU coated",
                "quantity": 2000,
                "unit_price": 8.50,
                "currency": "USD",
                "hs_code": "4202.92",
                "origin": "CN",
                "packaging": "polybag, 20 pcs per export carton",
                "cartons": 100,
                "carton_cm": [60, 40, 40],
                "gross_kg": 12.5,
                "net_kg": 11.0,
            },
            {
                "sku": "TB-105",
                "description": "Tote bag, cotton canvas",
                "material": "12oz cotton canvas",
                "quantity": 500,
                "unit_price": 3.20,
                "currency": "USD",
                "hs_code": "4202.22",
                "origin": "CN",
                "packaging": "polybag, 50 pcs per export carton",
                "cartons": 10,
                "carton_cm": [50, 40, 30],
                "gross_kg": 11.0,
                "net_kg": 10.0,
            },
        ],
    },
    "PO-2026-0098": {
        "client": "acme",
        "status": "shipped",
        "pi_number": "PI-2026-0098",
        "incoterm": "FOB Xiamen",
        "eta": "2026-12-08",
        "carrier": "Maersk",
        "tracking": "MSKU7654321",
        "spare_ratio": 0,
        "lines": [
            {
                "sku": "BP-220",
                "description": "Laptop backpack 15.6in",
                "quantity": 1000,
                "unit_price": 8.50,
                "currency": "USD",
                "hs_code": "4202.92",
                "origin": "CN",
                "packaging": "polybag, 20 pcs per carton",
                "cartons": 50,
                "carton_cm": [60, 40, 40],
                "gross_kg": 12.5,
                "net_kg": 11.0,
            },
        ],
    },
    "HL-2026-0032": {
        "client": "hailang",
        "status": "qc",
        "pi_number": "PI-2026-0032",
        "incoterm": "CIF Shanghai",
        "eta": "2026-12-15",
        "port_of_loading": "厦门",
        "port_of_discharge": "上海",
        "payment_terms": "T/T 30 天",
        "spare_ratio": 0.02,
        "lines": [
            {
                "sku": "TR-24",
                "description": "24寸拉杆箱 铝框",
                "material": "PC 外壳，铝合金框架",
                "quantity": 300,
                "unit_price": 145.00,
                "currency": "CNY",
                "hs_code": "4202.12",
                "origin": "CN",
                "packaging": "无纺布袋，每箱 2 个",
                "cartons": 150,
                "carton_cm": [70, 48, 30],
                "gross_kg": 9.8,
                "net_kg": 8.6,
            },
        ],
    },
}


async def seed_orders(db: Database) -> None:
    """Demo orders, created once: a later seed never reverts changes made through the API."""
    from bot.ids import order_key
    from handlers.orders.writes import apply_order, parse_order
    from storage.repos import orders

    for number, data in DEMO_ORDERS.items():
        async with db.write() as session:
            if await orders.by_key(session, order_key(number)) is None:
                await apply_order(session, number, parse_order(data), by="demo")


async def seed(db: Database, *, sandbox: bool = False) -> list[str]:
    async with db.write() as session:
        if sandbox:  # a console login to try: staff "li", password "demo"
            from bot.web.console.passwords import seed_demo_staff

            await seed_demo_staff(session)
        for data in DEMO_CLIENTS:
            await upsert_client(
                session,
                data["key"],  # type: ignore[arg-type]
                name=data["name"],  # type: ignore[arg-type]
                language=data["language"],  # type: ignore[arg-type]
                email_domains=data["email_domains"],  # type: ignore[arg-type]
                contacts=data["contacts"],  # type: ignore[arg-type]
                details={k: data[k] for k in DETAIL_FIELDS if k in data},  # type: ignore[misc]
            )
    await seed_orders(db)
    return [str(c["key"]) for c in DEMO_CLIENTS]
