"""WeChat events through the real signed route: QR scans, the menu scanner, menu clicks and their ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select

from channels.wechat_events import event_id
from storage.models import AuditLog, Message
from storage.repos import messages as message_repo
from tests.channels.test_wechat import ACME, HAILANG, STRANGER, count, post, start_bot
from tests.conftest import BotHarness
from tests.fakes.wechat import FakeWeChat, encrypt, message_xml, signed_query


@pytest_asyncio.fixture
async def wx_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat) -> BotHarness:
    return await start_bot(harness_factory, tmp_path, db_url, fake_wechat)


def scancode(
    openid: str, event: str, scan_type: str, result: str, key: str = "rselfmenu_0_0", **kw: Any
) -> str:
    """A menu-scanner event as WeChat pushes it, `ScanCodeInfo` nested."""
    info = (
        f"<ScanCodeInfo><ScanType><![CDATA[{scan_type}]]></ScanType>"
        f"<ScanResult><![CDATA[{result}]]></ScanResult></ScanCodeInfo>"
    )
    return message_xml(openid, "event", Event=event, EventKey=key, **kw).replace("</xml>", info + "</xml>")


async def inbound(h: BotHarness) -> list[Message]:
    async with h.db.read() as s:
        return list(
            (await s.execute(select(Message).where(Message.direction == "in").order_by(Message.id))).scalars()
        )


async def test_a_follower_scanning_our_qr_code_is_welcomed_and_the_scene_kept(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    xml = message_xml(
        HAILANG, "event", Event="SCAN", EventKey="carton-label-2026", Ticket="gQH47joAAAAAAAAAASxo"
    )
    for _ in range(2):  # WeChat's retry of the same push
        assert (await post(wx_bot, xml)).status == 200
    [call] = await fake_wechat.wait_sent(1)
    assert "感谢关注" in call.body["text"]["content"] and call.body["touser"] == HAILANG
    assert await wx_bot.settled() == ["sent"]
    [row] = await inbound(wx_bot)
    assert row.channel_user_id == HAILANG and "carton-label-2026" in (row.provider_message_id or "")
    assert row.payload["extra"]["event"] == "scan" and row.payload["extra"]["scene"] == "carton-label-2026"
    assert row.payload["extra"]["ticket"] == "gQH47joAAAAAAAAAASxo"
    assert await count(wx_bot, AuditLog, AuditLog.action == "contact_scanned_qr") == 1


async def test_a_qr_follow_keeps_its_scene_and_raw_event_key_in_the_id(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    await post(wx_bot, message_xml(STRANGER, "event", Event="subscribe", EventKey="qrscene_42", Ticket="T"))
    await fake_wechat.wait_sent(1)
    [row] = await inbound(wx_bot)
    assert row.payload["extra"]["scene"] == "42" and (row.provider_message_id or "").endswith(":qrscene_42")


async def test_a_carton_barcode_scanned_from_the_menu_is_read_as_the_order_number(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    """`scancode_waitmsg` with a Code 128 label: WeChat writes `CODE_128,<code>`; the code is the text."""
    resp = await post(wx_bot, scancode(ACME, "scancode_waitmsg", "barcode", "CODE_128,PO-2026-0117"))
    assert resp.status == 200 and await resp.text() == "success"
    await fake_wechat.wait_for(lambda f: any("PO-2026-0117" in t for t in f.texts_to(ACME)))
    reply = "\n".join(fake_wechat.texts_to(ACME))
    assert "Order PO-2026-0117: In production" in reply
    [row] = await inbound(wx_bot)
    assert row.text == "PO-2026-0117" and not row.payload["is_button"]
    assert row.payload["extra"]["scanned_code"] == {
        "event": "scancode_waitmsg",
        "menu_key": "rselfmenu_0_0",
        "scan_type": "barcode",
        "symbology": "CODE_128",
    }


async def test_a_scanned_qr_code_url_reaches_the_conversation_as_text_in_safe_mode(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=True)
    query, body = encrypt(scancode(ACME, "scancode_push", "qrcode", "https://track.example.com/PO-2026-0117"))
    assert (await post(h, body, query)).status == 200
    await fake_wechat.wait_sent(1)
    [row] = await inbound(h)
    assert row.text == "https://track.example.com/PO-2026-0117" and row.channel_user_id == ACME


async def test_two_menu_clicks_in_the_same_second_are_two_events_and_retries_stay_one(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    first = message_xml(ACME, "event", create_time=1_764_400_000, Event="CLICK", EventKey="menu:order_status")
    second = message_xml(ACME, "event", create_time=1_764_400_000, Event="CLICK", EventKey="menu:claim")
    for xml in (first, second, first, second):
        assert (await post(wx_bot, xml)).status == 200
    await fake_wechat.wait_sent(2)
    assert await wx_bot.settled() == ["sent", "sent"]
    assert [r.text for r in await inbound(wx_bot)] == ["menu:order_status", "menu:claim"]
    async with wx_bot.db.read() as s:
        found = await message_repo.get_by_provider_id(
            s, "wechat", "in", f"evt:{ACME}:1764400000:click:menu:claim"
        )
    assert found is not None and found.text == "menu:claim"
    assert len(fake_wechat.sent()) == 2


async def test_scan_events_still_need_the_signature_first(wx_bot: BotHarness) -> None:
    xml = scancode(ACME, "scancode_waitmsg", "barcode", "CODE_128,PO-2026-0117")
    for query in (signed_query(token="someone-elses-token"), {}):
        assert (await post(wx_bot, xml, query)).status == 403
    assert await count(wx_bot, Message) == 0


async def test_an_empty_scan_result_is_not_a_message(wx_bot: BotHarness) -> None:
    resp = await post(wx_bot, scancode(ACME, "scancode_push", "qrcode", ""))
    assert resp.status == 200 and await resp.text() == "success"
    assert await count(wx_bot, Message) == 0


def test_a_long_event_key_is_hashed_into_the_id_and_still_tells_events_apart() -> None:
    long_a, long_b = "menu:" + "a" * 120, "menu:" + "a" * 119 + "b"
    ids = {event_id(ACME, 1_764_400_000, "click", key) for key in (long_a, long_b, "menu:claim", "")}
    assert len(ids) == 4 and all(len(i) < 200 for i in ids)
    assert event_id(ACME, 1, "subscribe", "") == f"evt:{ACME}:1:subscribe"
