"""Order status, documents and notices through WeChat: signed XML pushes in, fake WeChat API out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_asyncio

from config.settings import WeChatSettings
from tests.conftest import BotHarness, make_settings
from tests.fakes.orders import ORDER_0117_DATA, pdf_text
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, signed_query, text_xml

ACME = "oAbC123openid"  # demo client "acme"
HAILANG = "oZh456openid"  # demo client "hailang"
STRANGER = "oStranger789"  # linked to nobody


@pytest_asyncio.fixture
async def wx_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat) -> BotHarness:
    from bot.tools.demo import seed

    wechat = WeChatSettings(
        enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=fake_wechat.api_base_url
    )
    h = await harness_factory(make_settings(tmp_path, db_url, wechat=wechat))
    await seed(h.db)
    return h


async def say(h: BotHarness, fake: FakeWeChat, openid: str, text: str) -> str:
    before = len(fake.texts_to(openid))
    resp = await h.client.post(
        "/webhooks/wechat", params=signed_query(), data=text_xml(openid, text).encode(),
        headers={"Content-Type": "text/xml"},
    )  # fmt: skip
    assert resp.status == 200
    await fake.wait_for(lambda f: len(f.texts_to(openid)) > before)
    return "\n".join(fake.texts_to(openid)[before:])


async def test_status_answers_in_chinese_and_english(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    reply = await say(wx_bot, fake_wechat, HAILANG, "订单到哪了")
    assert "订单 HL-2026-0032：质检中" in reply and "TR-24 24寸拉杆箱 铝框：300 件 + 备品 6 件（2%）" in reply
    reply = await say(wx_bot, fake_wechat, ACME, "PO 2026 0117 status")
    assert "Order PO-2026-0117: In production" in reply and "500 pcs + 15 spare (3%)" in reply
    # full-width characters come from a Chinese keyboard: the answer follows in Chinese
    reply = await say(wx_bot, fake_wechat, ACME, "ＰＯ－２０２６－０１１７")
    assert "订单 PO-2026-0117：生产中" in reply and "500 件 + 备品 15 件（3%）" in reply


async def test_no_order_data_to_unlinked_or_other_clients(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    for openid in (STRANGER, HAILANG):
        reply = await say(wx_bot, fake_wechat, openid, "PO-2026-0117 什么时候发货")
        for item in (*ORDER_0117_DATA, "spare", "备品"):
            assert item not in reply, (openid, item)


async def test_packing_list_arrives_as_a_signed_link_to_the_pdf(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    await say(wx_bot, fake_wechat, HAILANG, "装箱单")
    await fake_wechat.wait_for(lambda f: any(".pdf: " in t for t in f.texts_to(HAILANG)))
    [text] = [t for t in fake_wechat.texts_to(HAILANG) if ".pdf: " in t]
    assert "HL-2026-0032 的装箱单" in text
    link = text.split("HL-2026-0032-packing-list.pdf: ")[1].split()[0]
    resp = await wx_bot.client.get(link.replace(wx_bot.settings.server.public_url, ""))
    assert resp.status == 200
    pdf = pdf_text(await resp.read())
    assert "24寸拉杆箱 铝框" in pdf and "TOTAL / 合计\n306\n153\n1,315.80\n1,499.40" in pdf


async def test_shipped_notice_reaches_the_wechat_contact(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    resp = await wx_bot.api(
        "PUT",
        "/api/orders/HL-2026-0032",
        json={"status": "shipped", "carrier": "中远海运", "tracking": "COSU2"},
    )
    assert resp.status == 200
    await fake_wechat.wait_for(lambda f: f.texts_to(HAILANG))
    [notice] = fake_wechat.texts_to(HAILANG)
    assert "您的订单 HL-2026-0032 已发货" in notice and "中远海运" in notice and "COSU2" in notice
