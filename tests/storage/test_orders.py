"""Order writes and reads on SQLite and PostgreSQL: events, notices, prior issues, client isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.ids import candidates, order_key
from bot.tools.demo import seed
from handlers.orders.writes import OrderInvalid, apply_order, parse_order
from storage.db import Database
from storage.models import Claim, OrderEvent, OutboxRow
from storage.repos import clients, orders


async def test_order_lifecycle_on_each_database(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        await seed(db)
        await seed(db)  # idempotent: no second set of orders or events
        async with db.read() as s:
            events = list((await s.execute(select(OrderEvent))).scalars())
            acme = await clients.get_client(s, "acme")
            hailang = await clients.get_client(s, "hailang")
            assert acme is not None and hailang is not None
            # the client filter is in the query: hailang cannot reach acme's order by any spelling
            assert await orders.for_client(s, hailang.id, candidates("ＰＯ－２０２６－０１１７")) is None
            mine = await orders.for_client(s, acme.id, candidates("ＰＯ－２０２６－０１１７"))
            assert mine is not None and mine.number == "PO-2026-0117"
            assert {o.number for o in await orders.open_orders(s, acme.id)} == {
                "PO-2026-0098",
                "PO-2026-0117",
            }
        # 3 demo orders: a status and an ETA event each, and a shipment event for the shipped one
        assert len(events) == 7
        async with db.write() as s:
            s.add(Claim(number="CLM-2026-000001", state="closed", client_id=acme.id, sku="bp-220",
                        category="zipper", resolution="replacement"))  # fmt: skip
            await orders.add_sku_note(s, "BP-220", "YKK zippers", by="staff:li")
        async with db.write() as s:
            change = {"status": "shipped", "carrier": "Maersk", "tracking": "MSKU1", "eta": "2026-12-22"}
            result = await apply_order(s, "PO-2026-0117", parse_order(change))
            assert result.notices == 4 and not result.created
        with pytest.raises(OrderInvalid):
            async with db.write() as s:
                await apply_order(s, "PO-2026-0117", parse_order({"status": "delivered"}))
                await apply_order(s, "PO-2026-0117", parse_order({"spare_ratio": 0.2}))
        async with db.read() as s:
            order = await orders.by_key(s, order_key("PO-2026-0117"))
            assert order is not None and order.status == "shipped"  # the whole transaction rolled back
            kinds = [(e.kind, e.to_value) for e in order.events]
            assert ("status", "shipped") in kinds and ("eta", "2026-12-22") in kinds
            assert ("status", "delivered") not in kinds
            notices = list((await s.execute(select(OutboxRow).where(OutboxRow.kind == "notice"))).scalars())
            assert len(notices) == 4 and all("MSKU1" in n.payload["text"] for n in notices)
            prior = await orders.prior_issues(s, acme.id, ["BP-220", "TB-105"], exclude_order_id=order.id)
            assert [p["sku"] for p in prior] == ["BP-220"]
            assert prior[0]["categories"] == {"zipper": 1} and prior[0]["notes"][0]["note"] == "YKK zippers"
    finally:
        await db.dispose()
