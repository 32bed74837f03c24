"""The key claim paths through WhatsApp (Twilio) and WeChat, with their fake provider servers.

Neither channel has buttons: options arrive as numbered lines and the client answers with
the digit. WhatsApp sends one photo per message; WeChat images carry no caption at all.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_asyncio

from bot.tools.demo import seed
from config.settings import WeChatSettings
from storage.repos import staff as staff_repo
from tests.claim_fixtures import all_claims, jpeg, one_claim, order_line, photo, seed_orders
from tests.conftest import BotHarness, make_settings
from tests.fakes.twilio import CDN_HOST, FakeTwilio, encode, inbound_form, new_sid, sign, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, image_xml, signed_query, text_xml

NUMBER = f"CLM-{datetime.now(UTC).year}-000001"
WA_ACME = "whatsapp:+491701234567"  # demo client "acme", English
WA_QC = "whatsapp:+8613800000001"  # staff "li", QC, pages on WhatsApp
WX_HAILANG = "oZh456openid"  # demo client "hailang", Chinese
WX_QC = "oStaffQc001"  # staff "wang", QC, pages on WeChat


# ---- WhatsApp ---------------------------------------------------------------------------------------


async def wa_harness(
    factory: Any, tmp_path: Path, db_url: str, fake: FakeTwilio, **sections: Any
) -> BotHarness:
    """The WhatsApp bot with demo clients, their orders and QC on WhatsApp; `sections` as make_settings."""
    settings = make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake), **sections)
    settings.media.allowed_hosts = [CDN_HOST]
    h = await factory(settings)
    await seed(h.db)
    await seed_orders(h.db)
    async with h.db.write() as s:
        await staff_repo.upsert(s, "li", name="Li Wei", whatsapp=WA_QC, roles=["qc"])
    return h


@pytest_asyncio.fixture
async def wa_claims(harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio) -> BotHarness:
    return await wa_harness(harness_factory, tmp_path, db_url, fake_twilio)


async def wa_post(h: BotHarness, pairs: list[tuple[str, str]]) -> None:
    path = "/webhooks/whatsapp"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(h.settings.server.public_url + path, pairs),
    }
    resp = await h.client.post(path, data=encode(pairs), headers=headers)
    assert resp.status == 200


def wa_photo(fake: FakeTwilio, sender: str, data: bytes, body: str = "") -> list[tuple[str, str]]:
    sid = new_sid("MM")
    return inbound_form(
        sender, body, sid=sid, media=[(fake.add_media(data, "image/jpeg", message_sid=sid), "image/jpeg")]
    )


async def test_whatsapp_claim_from_photos_to_replacement(
    wa_claims: BotHarness, fake_twilio: FakeTwilio
) -> None:
    first, second = jpeg(photo(201)), jpeg(photo(202))
    opening = wa_photo(fake_twilio, WA_ACME, first, "PO-2026-0117 strap torn on 4 pcs, goods unused")
    for _ in range(2):  # Twilio retried the webhook: still one claim
        await wa_post(wa_claims, opening)
    await wa_claims.settled()
    await wa_post(wa_claims, wa_photo(fake_twilio, WA_ACME, second))  # the next photo, its own message
    await wa_claims.settled()

    claim = await one_claim(wa_claims.db)
    assert (claim.number, claim.order_number, claim.sku, claim.quantity_affected) == (
        NUMBER,
        "PO-2026-0117",
        "BP-220",
        4,
    )
    assert [e.sha256 for e in claim.evidence] == [hashlib.sha256(d).hexdigest() for d in (first, second)]
    replies = fake_twilio.texts_to(WA_ACME)
    assert len(replies) == 2 and NUMBER in replies[0] and f"Added to {NUMBER}" in replies[1]

    pages = fake_twilio.sent_to(WA_QC)
    assert NUMBER in pages[0].params["Body"] and "PO-2026-0117" in pages[0].params["Body"]
    # the photo reaches the QC phone as a signed link that serves the stored file
    link = urlsplit(pages[0].params.getall("MediaUrl")[0])
    served = await wa_claims.client.get(link.path)
    assert served.status == 200 and await served.read() == first

    for command in ("/claim 1 qc pass", "/claim 1 resp factory", f"/claim {NUMBER} replace 4"):
        await wa_post(wa_claims, inbound_form(WA_QC, command, profile_name="Li Wei"))
        await wa_claims.settled()
    notices = fake_twilio.texts_to(WA_ACME)[2:]
    assert "reviewing" in notices[0] and "confirmed the defect" in notices[0]
    assert "manufacturing responsibility" in notices[1] and "replacement of 4 pcs" in notices[2]
    assert "Refused" not in " ".join(fake_twilio.texts_to(WA_QC))
    line = await order_line(wa_claims.db, "BP-220")
    assert (line.replaced_qty, line.spares_used) == (4, 4)


async def test_whatsapp_dialog_with_numbered_answers(wa_claims: BotHarness, fake_twilio: FakeTwilio) -> None:
    await wa_post(wa_claims, inbound_form(WA_ACME, "the zipper is broken"))
    await wa_claims.settled()
    ask = fake_twilio.texts_to(WA_ACME)[-1]
    assert "Which order" in ask and "1. PO-2026-0123" in ask and "2. PO-2026-0117" in ask
    for answer in ("1", "2", "3 pcs", "1"):  # order, item (BP-300), quantity, unused ("1. Yes, unused")
        await wa_post(wa_claims, inbound_form(WA_ACME, answer))
        await wa_claims.settled()
    assert "photo or video" in fake_twilio.texts_to(WA_ACME)[-1]
    assert await all_claims(wa_claims.db) == []
    await wa_post(wa_claims, wa_photo(fake_twilio, WA_ACME, jpeg(photo(203))))
    await wa_claims.settled()
    claim = await one_claim(wa_claims.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected, claim.unused) == (
        "PO-2026-0123",
        "BP-300",
        3,
        True,
    )
    assert NUMBER in fake_twilio.texts_to(WA_ACME)[-1]


# ---- WeChat -----------------------------------------------------------------------------------------


async def wx_harness(
    factory: Any, tmp_path: Path, db_url: str, fake: FakeWeChat, **sections: Any
) -> BotHarness:
    """The WeChat bot with demo clients, their orders and QC on WeChat; `sections` as make_settings."""
    wechat = WeChatSettings(
        enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=fake.api_base_url
    )
    h = await factory(make_settings(tmp_path, db_url, wechat=wechat, **sections))
    await seed(h.db)
    await seed_orders(h.db)
    async with h.db.write() as s:
        await staff_repo.upsert(s, "wang", name="Wang QC", wechat=WX_QC, roles=["qc"])
    return h


@pytest_asyncio.fixture
async def wx_claims(harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat) -> BotHarness:
    return await wx_harness(harness_factory, tmp_path, db_url, fake_wechat)


def wx_photo(fake: FakeWeChat, sender: str, data: bytes, media_id: str) -> str:
    """An image message (WeChat images carry no caption) whose file the fake API serves."""
    fake.add_media(media_id, data)
    return image_xml(sender, media_id)


async def wx_post(h: BotHarness, xml: str) -> None:
    resp = await h.client.post(
        "/webhooks/wechat", params=signed_query(), data=xml.encode(), headers={"Content-Type": "text/xml"}
    )
    assert resp.status == 200


async def test_wechat_chinese_claim_from_captionless_photo_to_decision(
    wx_claims: BotHarness, fake_wechat: FakeWeChat
) -> None:
    data = jpeg(photo(301))
    fake_wechat.add_media("WX_PHOTO_1", data)
    await wx_post(wx_claims, image_xml(WX_HAILANG, "WX_PHOTO_1"))
    await wx_claims.settled()
    ask = fake_wechat.texts_to(WX_HAILANG)[-1]
    assert "哪个订单" in ask and "1. PO-2026-0200" in ask

    for answer in ("PO-2026-0200 拉链坏了", "10", "是"):  # order + defect, quantity, unused
        await wx_post(wx_claims, text_xml(WX_HAILANG, answer))
        await wx_claims.settled()
    claim = await one_claim(wx_claims.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected, claim.unused, claim.language) == (
        "PO-2026-0200",
        "DF-50",
        10,
        True,
        "zh",
    )
    assert claim.evidence[0].sha256 == hashlib.sha256(data).hexdigest()
    assert f"您的索赔编号是 {NUMBER}" in fake_wechat.texts_to(WX_HAILANG)[-1]
    # QC on WeChat got the page and the photo (uploaded as WeChat media)
    assert any(NUMBER in t for t in fake_wechat.texts_to(WX_QC))
    assert data in fake_wechat.uploads.values()

    for command in ("/claim 1 qc fail 无法确认缺陷", "/claim 1 resp client", "/claim 1 reject 使用痕迹明显"):
        await wx_post(wx_claims, text_xml(WX_QC, command))
        await wx_claims.settled()
    notices = fake_wechat.texts_to(WX_HAILANG)
    assert any("未能确认存在生产或材料缺陷：无法确认缺陷" in n for n in notices)
    assert "很抱歉，我们无法提供更换。原因：使用痕迹明显" in notices[-1]
    claim = await one_claim(wx_claims.db)
    assert (claim.state, claim.responsibility, claim.resolution) == ("resolved", "client", "rejected")
