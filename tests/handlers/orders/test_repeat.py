"""Repeat-order memory: the brief staff get, prior_issues in the API, /note, and client feedback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import Feedback, SkuNote, utcnow
from storage.repos import clients, conversations
from tests.conftest import BotHarness
from tests.fakes.orders import add_closed_claim, add_staff, outbox_rows
from tests.fakes.telegram import FakeTelegram, message_update

ACME_CHAT = 5550001
HAILANG_CHAT = 5550002
LI, ANNA, BOB = 1001, 1002, 1003  # qc+sales, sales, warehouse


def order(client: str, number: str, skus: list[str]) -> dict[str, object]:
    return {
        "client": client,
        "status": "confirmed",
        "spare_ratio": 0.03,
        "lines": [{"sku": s, "description": f"bag {s}", "quantity": 800, "hs_code": "4202.92"} for s in skus],
    }


async def staff_and_history(h: BotHarness) -> None:
    await add_staff(h, "li", LI, ["qc", "sales"])
    await add_staff(h, "anna", ANNA, ["sales"])
    await add_staff(h, "bob", BOB, ["warehouse"])
    await add_closed_claim(
        h, number="CLM-2026-000001", client="acme", sku="BP-220", order_number="PO-2026-0098"
    )
    await add_closed_claim(
        h, number="CLM-2026-000002", client="hailang", sku="BP-220", order_number=None,
        category="stitching", resolution="follow_up",
    )  # fmt: skip


async def test_staff_note_then_repeat_order_brief_reaches_sales_and_qc(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await staff_and_history(tg_bot)
    await tg_bot.post_telegram(
        message_update(LI, text="/note BP-220 use YKK #5 zippers, pull-test 10 per carton")
    )
    await fake_telegram.wait_for(lambda f: f.texts_to(LI))
    assert "Prevention note saved for BP-220" in fake_telegram.texts_to(LI)[0]

    resp = await tg_bot.api(
        "PUT", "/api/orders/PO-2026-0400", json=order("acme", "PO-2026-0400", ["BP-220", "NEW-1"])
    )
    assert resp.status == 201
    await fake_telegram.wait_for(lambda f: len(f.texts_to(LI)) >= 2 and f.texts_to(ANNA))
    await tg_bot.settled()
    for chat in (LI, ANNA):
        brief = fake_telegram.texts_to(chat)[-1]
        assert "Repeat-order brief" in brief and "PO-2026-0400" in brief and "Acme Bags GmbH" in brief
        assert "BP-220: 1 claim from this client, 1 from others" in brief
        assert "zipper ×1" in brief and "stitching ×1" in brief and "replacement ×1" in brief
        assert "CLM-2026-000001 (this client, order PO-2026-0098)" in brief
        assert "use YKK #5 zippers" in brief
        assert "NEW-1" not in brief  # no history, not mentioned
    assert not fake_telegram.texts_to(BOB)  # not sales or qc
    assert len(await outbox_rows(tg_bot, kind="alert")) == 2  # li has both roles: one brief, not two

    body = await (await tg_bot.api("GET", "/api/orders/PO-2026-0400")).json()
    [issue] = body["prior_issues"]
    assert (
        issue["sku"] == "BP-220" and issue["claims_same_client"] == 1 and issue["claims_other_clients"] == 1
    )
    assert [c["id"] for c in issue["claims"]] == ["CLM-2026-000001", "CLM-2026-000002"]
    assert issue["notes"][0]["note"].startswith("use YKK #5") and issue["notes"][0]["by"] == "staff:li"


async def test_sku_alone_history_and_no_brief_without_history(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await staff_and_history(tg_bot)
    resp = await tg_bot.api(
        "PUT", "/api/orders/HL-2026-0500", json=order("hailang", "HL-2026-0500", ["BP-220"])
    )
    assert resp.status == 201
    await fake_telegram.wait_for(lambda f: f.texts_to(LI))
    assert "BP-220: 1 claim from this client, 1 from others" in fake_telegram.texts_to(LI)[0]
    resp = await tg_bot.api(
        "PUT", "/api/orders/HL-2026-0501", json=order("hailang", "HL-2026-0501", ["ZZ-9"])
    )
    assert resp.status == 201
    await tg_bot.settled()
    assert len(fake_telegram.texts_to(LI)) == 1
    assert len(await outbox_rows(tg_bot, kind="alert")) == 2  # li and anna for HL-2026-0500 only
    # an update of an existing order is not a new arrival: no second brief
    await tg_bot.api("PUT", "/api/orders/HL-2026-0500", json={"status": "in_production"})
    await tg_bot.settled()
    assert len(await outbox_rows(tg_bot, kind="alert")) == 2


async def test_note_api_and_clients_cannot_use_the_staff_command(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    resp = await tg_bot.api(
        "POST", "/api/skus/tb-105/notes", json={"note": "double-stitch handles", "by": "qc:li"}
    )
    assert resp.status == 201 and (await resp.json())["sku"] == "TB-105"
    assert (await tg_bot.api("POST", "/api/skus/TB-105/notes", json={"note": ""})).status == 422
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="/note BP-220 we are the client"))
    await fake_telegram.wait_for(lambda f: f.texts_to(ACME_CHAT))
    assert "Prevention note" not in fake_telegram.texts_to(ACME_CHAT)[0]
    async with tg_bot.db.read() as s:
        notes = [(n.sku, n.note) for n in (await s.execute(select(SkuNote))).scalars()]
    assert notes == [("TB-105", "double-stitch handles")]


async def open_feedback_dialog(h: BotHarness, chat: int, claim_id: int) -> None:
    """What the claims side does when a claim closes (see handlers/feedback.py)."""
    async with h.db.write() as s:
        contact = await clients.get_contact(s, "telegram", str(chat))
        assert contact is not None
        conv = await conversations.open_conversation(s, contact)
        conversations.set_dialog(conv, "feedback", {"claim_id": claim_id}, utcnow() + timedelta(days=7))


async def test_feedback_after_a_closed_claim_is_recorded_with_order_and_sku(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    claim_id = await add_closed_claim(
        tg_bot, number="CLM-2026-000009", client="hailang", sku="TR-24", order_number="HL-2026-0032"
    )
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="你好"))
    await fake_telegram.wait_for(lambda f: f.texts_to(HAILANG_CHAT))
    await open_feedback_dialog(tg_bot, HAILANG_CHAT, claim_id)
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="４分，处理很快"))
    await fake_telegram.wait_for(lambda f: len(f.texts_to(HAILANG_CHAT)) >= 2)
    assert "感谢您的评价（4/5）" in fake_telegram.texts_to(HAILANG_CHAT)[1]
    # the dialog is over: another "5" is just a message, not a second score
    await tg_bot.post_telegram(message_update(HAILANG_CHAT, text="5"))
    await fake_telegram.wait_for(lambda f: len(f.texts_to(HAILANG_CHAT)) >= 3)
    async with tg_bot.db.read() as s:
        [fb] = list((await s.execute(select(Feedback))).scalars())
        hailang = await clients.get_client(s, "hailang")
    assert (fb.claim_id, fb.score, fb.sku, fb.comment) == (claim_id, 4, "TR-24", "处理很快")
    assert fb.order_id is not None and hailang is not None and fb.client_id == hailang.id


async def test_non_score_reply_leaves_the_feedback_dialog_and_is_answered_normally(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    claim_id = await add_closed_claim(
        tg_bot, number="CLM-2026-000010", client="acme", sku="BP-220", order_number=None
    )
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="hello"))
    await fake_telegram.wait_for(lambda f: f.texts_to(ACME_CHAT))
    await open_feedback_dialog(tg_bot, ACME_CHAT, claim_id)
    await tg_bot.post_telegram(message_update(ACME_CHAT, text="PO-2026-0117 status"))
    await fake_telegram.wait_for(lambda f: len(f.texts_to(ACME_CHAT)) >= 2)
    assert "Order PO-2026-0117: In production" in fake_telegram.texts_to(ACME_CHAT)[1]
    async with tg_bot.db.read() as s:
        assert not list((await s.execute(select(Feedback))).scalars())
