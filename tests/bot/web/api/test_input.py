"""Authenticated API input that overflows Python's parser or the database's integer types: 400, never 500.

Each case goes through the real routes on SQLite and, when AFTERSALES_TEST_DATABASE_URL
is set, PostgreSQL (where BIGINT/INTEGER overflow is a DataError), and must answer 400
with the one error shape `{"error": ..., "field": ...}` and write nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import func, select

from storage.models import AuditLog, Client, Order
from tests.claim_fixtures import ACME_CHAT, claims_bot_any_db, say

__all__ = ["claims_bot_any_db"]  # the fixture, imported for pytest

BIG = "9" * 40
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def forged_cursor(row_id: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", row_id]).encode()).decode()


def line(**changes: Any) -> dict[str, Any]:
    return {"sku": "BP-330", "description": "Rolltop backpack", "quantity": 100, **changes}


GETS = [
    (f"/api/conversations/{BIG}/messages", "id"),
    (f"/api/escalations/{BIG}", "id"),
    (f"/api/escalations/ESC-{BIG}", "id"),
    (f"/api/claims/{BIG}", "id"),
    (f"/api/claims/CLM-2026-{BIG}", "id"),
    (f"/api/conversations/1/messages?cursor={BIG}", "cursor"),
    (f"/api/escalations?cursor={BIG}", "cursor"),
    (f"/api/conversations?cursor={BIG}", "cursor"),
    (f"/api/conversations?cursor={forged_cursor(10**30)}", "cursor"),
    (f"/api/claims?cursor={forged_cursor(10**30)}", "cursor"),
    (f"/api/claims?cursor={forged_cursor(1e300)}", "cursor"),
    ("/api/conversations?limit=99999999999999999999", "limit"),
    ("/api/conversations?limit=-99999999999999999999", "limit"),
    ("/api/claims?limit=99999999999999999999", "limit"),
    ("/api/escalations?limit=99999999999999999999", "limit"),
    (f"/api/conversations/1/messages?limit={'9' * 5000}", "limit"),
]

WRITES: list[tuple[str, str, bytes, str]] = [
    ("PUT", "/api/orders/PO-2026-0900", DEEP, "body"),
    ("PUT", "/api/orders/PO-2026-0900", DEEP_OBJECT, "body"),
    ("PUT", "/api/orders/PO-2026-0900", b"[]", "body"),
    ("PUT", "/api/orders/PO-2026-0900", b"", "body"),
    ("PUT", "/api/orders/PO-2026-0900", json.dumps({"lines": [line(quantity=10**30)]}).encode(), "body"),
    (
        "PUT",
        "/api/orders/PO-2026-0900",
        b'{"lines": [{"sku": "X", "quantity": ' + b"9" * 5000 + b"}]}",
        "body",
    ),
    ("PUT", "/api/orders/PO-2026-0900", b'{"spare_ratio": NaN}', "body"),
    ("PUT", "/api/orders/PO-2026-0900", b'{"spare_ratio": 1e999}', "body"),
    ("PUT", "/api/clients/overflow", DEEP, "body"),
    ("PUT", "/api/clients/overflow", b'["name", "Overflow Ltd"]', "body"),
    ("PUT", "/api/clients/overflow", b'"Overflow Ltd"', "body"),
    ("POST", "/api/skus/BP-220/notes", b"[1]", "body"),
    ("POST", "/api/skus/BP-220/notes", DEEP, "body"),
    ("POST", "/api/claims/1/transition", DEEP, "body"),
    ("POST", "/api/claims/1/transition", b'["accept"]', "body"),
    ("POST", f"/api/claims/{BIG}/transition", b'{"action": "accept", "by": "li"}', "id"),
    ("POST", "/api/escalations/1/ack", DEEP, "body"),
    ("POST", "/api/escalations/1/ack", b'["li"]', "body"),
    ("POST", f"/api/escalations/{BIG}/ack", b'{"staff": "li"}', "id"),
]


async def rows(bot: Any, model: type) -> int:
    async with bot.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def assert_400(resp: Any, field: str) -> None:
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert set(body) == {"error", "field"} and body["field"] == field and body["error"]


async def test_overflowing_ids_cursors_and_limits_are_400(claims_bot_any_db: Any) -> None:
    bot = claims_bot_any_db
    await say(bot, ACME_CHAT, "hello")  # conversation 1 exists, so a cursor on it reaches the query
    await bot.idle()
    for path, field in GETS:
        await assert_400(await bot.api("GET", path), field)


async def test_overflowing_bodies_are_400_and_write_nothing(claims_bot_any_db: Any) -> None:
    bot = claims_bot_any_db
    before = (await rows(bot, Order), await rows(bot, Client), await rows(bot, AuditLog))
    headers = {"Content-Type": "application/json"}
    for method, path, body, field in WRITES:
        await assert_400(await bot.api(method, path, data=body, headers=headers), field)
    assert (await rows(bot, Order), await rows(bot, Client), await rows(bot, AuditLog)) == before


async def test_values_too_big_for_their_column_are_refused_by_field(claims_bot_any_db: Any) -> None:
    """In 64 bits but not in the 32-bit INTEGER or NUMERIC(14, 4) column: refused naming the field."""
    bot = claims_bot_any_db
    resp = await bot.api(
        "PUT", "/api/orders/PO-2026-0901", json={"client": "acme", "lines": [line(quantity=2**40)]}
    )
    assert resp.status == 422 and (await resp.json())["field"] == "lines[0].quantity"
    resp = await bot.api(
        "PUT", "/api/orders/PO-2026-0901", json={"client": "acme", "lines": [line(unit_price=1e20)]}
    )
    assert resp.status == 422 and (await resp.json())["field"] == "lines[0].unit_price"
    resp = await bot.api(
        "POST", "/api/claims/1/transition", json={"action": "replace", "by": "li", "qty": 2**40}
    )
    await assert_400(resp, "qty")
    assert (await bot.api("GET", "/api/orders/PO-2026-0901")).status == 404


async def test_the_same_routes_serve_ordinary_input(claims_bot_any_db: Any) -> None:
    """Positive control: in-range ids, cursors, limits and object bodies still work."""
    bot = claims_bot_any_db
    await say(bot, ACME_CHAT, "hello")
    await bot.idle()
    page = await (await bot.api("GET", "/api/conversations?limit=1")).json()
    conv = page["items"][0]["id"]
    assert (await bot.api("GET", f"/api/conversations/{conv}/messages?limit=5&cursor=999999")).status == 200
    assert (await bot.api("GET", "/api/conversations/9223372036854775807/messages")).status == 404
    assert (await bot.api("GET", "/api/escalations?limit=5&cursor=5")).status == 200
    assert (await bot.api("GET", "/api/claims?limit=5")).status == 200
    assert (await bot.api("GET", "/api/claims/17")).status == 404
    assert (await bot.api("GET", "/api/conversations?limit=0")).status == 422  # in range, out of bounds
    resp = await bot.api("PUT", "/api/clients/overflow", json={"name": "Overflow Ltd"})
    assert resp.status == 201
    resp = await bot.api("PUT", "/api/orders/PO-2026-0902", json={"client": "acme", "lines": [line()]})
    assert resp.status == 201, await resp.text()
    resp = await bot.api("POST", "/api/skus/BP-330/notes", json={"note": "check the zip", "by": "li"})
    assert resp.status == 201
