"""WeChat OA end to end: real webhook route, wechatpy signing/AES/parsing, fake WeChat API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from wechatpy import parse_message
from wechatpy.utils import check_signature

from bot.messages import Attachment, AttachmentKind, Channel, OutboundMessage, SendError
from bot.tools.demo import seed
from config.settings import WeChatSettings
from storage.models import AttachmentRow, AuditLog, Message, OutboxRow
from tests.conftest import BotHarness, make_settings
from tests.fakes.wechat import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    FakeWeChat,
    compat,
    encrypt,
    event_xml,
    image_xml,
    message_xml,
    next_msg_id,
    signed_query,
    text_xml,
)

ACME = "oAbC123openid"  # demo client "acme", English
HAILANG = "oZh456openid"  # demo client "hailang", Chinese
STRANGER = "oStranger789"


def wechat_settings(fake: FakeWeChat, *, aes: bool = False, reply_mode: str = "api") -> Any:
    return WeChatSettings(
        reply_mode=reply_mode,
        enabled=True,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        token=TOKEN,
        encoding_aes_key=AES_KEY if aes else "",
        api_base_url=fake.api_base_url,
    )


async def start_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, fake: FakeWeChat, **kw: Any
) -> BotHarness:
    media_hosts = kw.pop("media_hosts", None)
    settings = make_settings(tmp_path, db_url, wechat=wechat_settings(fake, **kw))
    if media_hosts is not None:
        settings.media.allowed_hosts = media_hosts
    h = await harness_factory(settings)
    await seed(h.db)
    return h


@pytest_asyncio.fixture
async def wx_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat) -> BotHarness:
    return await start_bot(harness_factory, tmp_path, db_url, fake_wechat)


async def post(h: BotHarness, xml: str | bytes, query: dict[str, str] | None = None) -> Any:
    body = xml.encode() if isinstance(xml, str) else xml
    return await h.client.post(
        "/webhooks/wechat",
        params=query if query is not None else signed_query(),
        data=body,
        headers={"Content-Type": "text/xml"},
    )


async def count(h: BotHarness, model: type, *where: object) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def outbox_rows(h: BotHarness) -> list[OutboxRow]:
    async with h.db.read() as s:
        return list((await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


# ---- handshake -----------------------------------------------------------------------------------


async def posted_twice_answered_once(bot: BotHarness, fake: FakeWeChat, xml: str) -> str | None:
    """A push and WeChat's retry of it: one answer sent, one row stored; its dedup id."""
    for _ in range(2):
        assert (await post(bot, xml)).status == 200
    await fake.wait_sent(1)
    assert await bot.settled() == ["sent"]
    async with bot.db.read() as s:
        rows = (await s.execute(select(Message.provider_message_id).where(Message.direction == "in"))).all()
    assert len(rows) == 1
    return rows[0][0]


async def test_url_verification_echoes_echostr(wx_bot: BotHarness) -> None:
    query = signed_query(echostr="8301203851234")
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])  # signed as WeChat signs
    resp = await wx_bot.client.get("/webhooks/wechat", params=query)
    assert resp.status == 200
    assert await resp.text() == "8301203851234"


async def test_url_verification_with_bad_signature_is_403(wx_bot: BotHarness) -> None:
    bad = signed_query(token="someone-elses-token", echostr="123")
    missing = {"echostr": "123", "timestamp": "1", "nonce": "2"}
    for query in (bad, missing):
        resp = await wx_bot.client.get("/webhooks/wechat", params=query)
        assert resp.status == 403
        assert "123" not in await resp.text()


# ---- messages in, replies out --------------------------------------------------------------------


async def test_chinese_text_gets_chinese_reply_through_custom_send(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    resp = await post(wx_bot, text_xml(HAILANG, "你好，我想问一下"))
    assert resp.status == 200
    assert await resp.text() == "success"
    [call] = await fake_wechat.wait_sent(1)
    assert call.body["touser"] == HAILANG and call.body["msgtype"] == "text"
    content = call.body["text"]["content"]
    assert "请问有什么可以帮您" in content
    # the menu already lists its choices: buttons are not repeated as extra numbered lines
    assert content.count("订单状态") == 1
    assert len(fake_wechat.calls_to("token")) == 1
    assert call.params["access_token"] in fake_wechat.tokens


async def test_english_text_and_emoji(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    await post(wx_bot, text_xml(ACME, "hello 👋"))
    [call] = await fake_wechat.wait_sent(1)
    assert "How can we help" in call.body["text"]["content"]
    async with wx_bot.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.text == "hello 👋" and msg.channel == "wechat" and msg.channel_user_id == ACME


async def test_safe_mode_round_trip(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=True)
    msg_id = next_msg_id()
    query, body = encrypt(text_xml(HAILANG, "你好", msg_id))
    assert b"\xe4\xbd\xa0" not in body  # the text travels encrypted
    resp = await post(h, body, query)
    assert resp.status == 200 and await resp.text() == "success"
    [call] = await fake_wechat.wait_sent(1)
    assert "请问有什么可以帮您" in call.body["text"]["content"]
    async with h.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.provider_message_id == str(msg_id) and msg.text == "你好"


async def test_safe_mode_refuses_bad_msg_signature_wrong_app_and_plaintext(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=True)
    query, body = encrypt(text_xml(ACME, "hello"))
    tampered = dict(query, msg_signature="0" * 40)
    other_app_query, other_app_body = encrypt(text_xml(ACME, "hello"), app_id="wxsomeoneelse0000")
    for q, b in ((tampered, body), (other_app_query, other_app_body), (signed_query(), text_xml(ACME, "hi"))):
        resp = await post(h, b, q)
        assert resp.status == 403, (q, b)
    assert await count(h, Message) == 0


async def test_compatibility_mode_without_an_aes_key_reads_the_plaintext(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    msg_id = next_msg_id()
    query, body = compat(text_xml(HAILANG, "你好", msg_id))
    assert b"<Encrypt>" in body and "你好".encode() in body
    resp = await post(wx_bot, body, query)
    assert resp.status == 200 and await resp.text() == "success"
    [call] = await fake_wechat.wait_sent(1)
    assert "请问有什么可以帮您" in call.body["text"]["content"]
    async with wx_bot.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.provider_message_id == str(msg_id) and msg.text == "你好"
    # an envelope alone cannot be read without the key; a bad signature is refused before either
    envelope_query, envelope = encrypt(text_xml(HAILANG, "再见"))
    assert (await post(wx_bot, envelope, envelope_query)).status == 403
    bad_query, bad_body = compat(text_xml(HAILANG, "再见"), token="someone-elses-token")
    assert (await post(wx_bot, bad_body, bad_query)).status == 403
    assert await count(wx_bot, Message, Message.direction == "in") == 1


async def test_compatibility_mode_with_an_aes_key_uses_the_encrypted_copy(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    """The plaintext half is not authenticated by msg_signature: with a key only the cipher counts."""
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=True)
    msg_id = next_msg_id()
    query, envelope = encrypt(text_xml(ACME, "from the cipher", msg_id))
    cipher = envelope.decode().split("<Encrypt>", 1)[1]
    forged_plain = text_xml(STRANGER, "from the plaintext", msg_id + 1)
    body = forged_plain.replace("</xml>", "<Encrypt>" + cipher).encode()
    assert (await post(h, body, query)).status == 200
    await fake_wechat.wait_sent(1)
    async with h.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert (msg.channel_user_id, msg.text, msg.provider_message_id) == (ACME, "from the cipher", str(msg_id))
    tampered = dict(query, msg_signature="0" * 40)
    assert (await post(h, compat(text_xml(ACME, "x"))[1], tampered)).status == 403


async def test_msgid_spelt_msgID_is_the_dedup_id(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    msg_id = next_msg_id()
    xml = text_xml(ACME, "hello", msg_id).replace("MsgId>", "MsgID>")
    pid = await posted_twice_answered_once(wx_bot, fake_wechat, xml)
    assert pid == str(msg_id)


async def test_bad_or_missing_signature_is_403_and_nothing_stored(wx_bot: BotHarness) -> None:
    good = signed_query()
    for query in (
        signed_query(token="wrong-token"),
        dict(good, signature="0" * 40),
        dict(good, timestamp=str(int(good["timestamp"]) + 1)),
        {},
    ):
        resp = await post(wx_bot, text_xml(ACME, "hello"), query)
        assert resp.status == 403
    assert await count(wx_bot, Message) == 0


XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://{path}">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>42</MsgId></xml>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&d;</Content><MsgId>43</MsgId></xml>"
)


def test_wechatpy_itself_refuses_entity_declarations(tmp_path: Path) -> None:
    """The library's own defence (xmltodict disable_entities), independent of our DOCTYPE check."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    for payload in (XXE.format(path=secret, openid=ACME), LAUGHS.format(openid=ACME)):
        with pytest.raises(ValueError, match="entities are disabled"):
            parse_message(payload)


async def test_malformed_xxe_and_billion_laughs_are_400_and_nothing_stored(
    wx_bot: BotHarness, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    bodies = [
        b"<xml><MsgType>text</MsgType",  # truncated
        b"not xml at all",
        b"",
        b"<foo><MsgType>text</MsgType></foo>",  # not the <xml> root
        message_xml(ACME, "text", Content="no MsgType?")
        .replace("<MsgType><![CDATA[text]]></MsgType>", "")
        .encode(),
        b"<xml/>",
        b"<xml><MsgType><a/></MsgType></xml>",
        "<xml><MsgType>text</MsgType><Content>\u4f60</Content></xml>".encode("gbk"),
        text_xml(ACME, "no id").replace("<MsgId>", "<X>").replace("</MsgId>", "</X>").encode(),
        XXE.format(path=secret, openid=ACME).encode(),
        LAUGHS.format(openid=ACME).encode(),
        XXE.format(path=secret, openid=ACME).replace("<!DOCTYPE", "<!doctype").encode(),
    ]
    for body in bodies:
        resp = await post(wx_bot, body)
        assert resp.status == 400, body
        assert "error" in await resp.json()
    assert await count(wx_bot, Message) == 0


async def test_doctype_words_inside_a_message_are_just_text(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    resp = await post(wx_bot, text_xml(ACME, "what is <!DOCTYPE html> and <!ENTITY x>?"))
    assert resp.status == 200
    await fake_wechat.wait_sent(1)
    assert await count(wx_bot, Message, Message.direction == "in") == 1


async def test_same_msgid_twice_gives_one_message_and_one_reply(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    xml = text_xml(ACME, "hello")
    for _ in range(3):  # WeChat retries the same push up to three times
        resp = await post(wx_bot, xml)
        assert resp.status == 200 and await resp.text() == "success"
    await fake_wechat.wait_sent(1)
    assert await wx_bot.settled() == ["sent"]
    assert await count(wx_bot, Message, Message.direction == "in") == 1
    assert len(fake_wechat.sent()) == 1


async def test_retries_and_replies_on_each_database(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, any_db_url, fake_wechat)
    text, event = text_xml(HAILANG, "你好"), event_xml(STRANGER, "subscribe")
    for _ in range(2):
        assert (await post(h, text)).status == 200
        assert (await post(h, event)).status == 200
    await fake_wechat.wait_sent(2)
    assert await h.settled() == ["sent", "sent"]
    assert await count(h, Message, Message.direction == "in") == 2
    assert len(fake_wechat.sent()) == 2


async def test_image_is_fetched_by_media_id_and_stored_with_sha256(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    data = b"\xff\xd8\xff\xe0" + b"torn strap photo" * 200
    fake_wechat.add_media("MEDIA_1", data)
    await post(wx_bot, image_xml(ACME, "MEDIA_1"))
    await fake_wechat.wait_sent(1)
    await wx_bot.idle()
    async with wx_bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(att.stored_path).read_bytes() == data
    assert att.kind == "photo" and att.error is None
    [get] = fake_wechat.calls_to("media/get")
    assert get.params["media_id"] == "MEDIA_1"  # by MediaId on the API host, not the PicUrl, when it has one


async def test_image_over_the_cap_gets_polite_message(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    fake_wechat.add_media("HUGE", b"x" * 5_000_001)
    await post(wx_bot, image_xml(ACME, "HUGE"))
    await fake_wechat.wait_for(lambda f: any("too large" in t for t in f.texts_to(ACME)))
    await wx_bot.idle()
    async with wx_bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.error == "too_large" and att.stored_path is None


async def test_video_url_on_a_foreign_host_is_refused(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat)
    fake_wechat.add_media_json("VID_EVIL", {"video_url": "http://169.254.169.254/latest/meta-data"})
    await post(h, message_xml(ACME, "video", MediaId="VID_EVIL", ThumbMediaId="T", MsgId=next_msg_id()))
    await fake_wechat.wait_for(lambda f: any("could not download" in t for t in f.texts_to(ACME)))
    assert not fake_wechat.calls_to("video")


async def test_video_url_on_an_allowed_host_is_fetched(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, media_hosts=["127.0.0.1"])
    fake_wechat.add_media_json("VID_1", {"video_url": f"{fake_wechat.url}/video/v1.mp4"})
    await post(h, message_xml(ACME, "video", MediaId="VID_1", ThumbMediaId="T", MsgId=next_msg_id()))
    await fake_wechat.wait_sent(1)
    await h.idle()
    async with h.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.kind == "video" and att.error is None and att.sha256
    assert len(fake_wechat.calls_to("video")) == 1


async def test_voice_recognition_location_and_link_become_text(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.add_media("VOICE_1", b"#!AMR\n....", "audio/amr")
    await post(
        wx_bot,
        message_xml(
            ACME, "voice", MediaId="VOICE_1", Format="amr", Recognition="转人工", MsgId=next_msg_id()
        ),
    )
    await post(
        wx_bot,
        message_xml(
            ACME,
            "location",
            Location_X="24.4798",
            Location_Y="118.0894",
            Scale=15,
            Label="厦门市思明区",
            MsgId=next_msg_id(),
        ),
    )
    await post(
        wx_bot,
        message_xml(
            ACME,
            "link",
            Title="Our order",
            Description="d",
            Url="https://example.com/po",
            MsgId=next_msg_id(),
        ),
    )
    await fake_wechat.wait_sent(3)
    await wx_bot.idle()
    async with wx_bot.db.read() as s:
        texts = list(
            (
                await s.execute(select(Message.text).where(Message.direction == "in").order_by(Message.id))
            ).scalars()
        )
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert texts == [
        "转人工",
        "location: 24.4798,118.0894 厦门市思明区",
        "Our order\nd\nhttps://example.com/po",
    ]
    assert att.kind == "voice" and att.mime == "audio/amr"


async def test_subscribe_gets_bilingual_welcome_and_unsubscribe_no_reply(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    resp = await post(wx_bot, event_xml(STRANGER, "subscribe"))
    assert resp.status == 200 and await resp.text() == "success"
    [call] = await fake_wechat.wait_sent(1)
    text = call.body["text"]["content"]
    assert "感谢关注" in text and "thank you for following" in text
    assert "订单状态 / Order status" in text
    # the welcome's numbers work like the menu's
    await post(wx_bot, text_xml(STRANGER, "1"))
    await fake_wechat.wait_sent(2)
    assert "order number" in fake_wechat.texts_to(STRANGER)[1]

    await post(wx_bot, event_xml(STRANGER, "unsubscribe"))
    await wx_bot.settled()
    assert len(fake_wechat.sent()) == 2
    assert await count(wx_bot, Message, Message.direction == "in") == 3
    assert await count(wx_bot, AuditLog, AuditLog.action == "contact_unsubscribed") == 1


async def test_event_retry_is_deduplicated_on_openid_and_create_time(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    xml = event_xml(STRANGER, "subscribe", create_time=1_764_400_000)
    pid = await posted_twice_answered_once(wx_bot, fake_wechat, xml)
    assert pid == f"evt:{STRANGER}:1764400000:subscribe"


async def test_menu_click_is_a_button_press(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    await post(wx_bot, event_xml(ACME, "CLICK", key="menu:order_status"))
    [call] = await fake_wechat.wait_sent(1)
    assert "order number" in call.body["text"]["content"]


async def test_other_events_are_answered_and_not_stored(wx_bot: BotHarness) -> None:
    resp = await post(wx_bot, event_xml(ACME, "VIEW", key="https://example.com"))
    assert resp.status == 200 and await resp.text() == "success"
    assert await count(wx_bot, Message) == 0


# ---- delivery failures ---------------------------------------------------------------------------


async def test_invalid_token_is_refreshed_and_message_sent_once(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.fail_next("message/custom/send", 40001)
    await post(wx_bot, text_xml(ACME, "hello"))
    await fake_wechat.wait_sent(1)
    assert await wx_bot.settled() == ["sent"]
    attempts = fake_wechat.sent(ok_only=False)
    assert [(c.ok, c.errcode) for c in attempts] == [(False, 40001), (True, 0)]
    assert len(fake_wechat.calls_to("token")) == 2
    assert attempts[0].params["access_token"] != attempts[1].params["access_token"]
    [row] = await outbox_rows(wx_bot)
    assert row.attempts == 1  # refreshed inside one delivery, not a failed attempt


async def test_token_revoked_behind_our_back_is_fetched_again(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    await post(wx_bot, text_xml(ACME, "hello"))
    await fake_wechat.wait_sent(1)
    fake_wechat.revoke_token()
    await post(wx_bot, text_xml(ACME, "hello again"))
    await fake_wechat.wait_sent(2)
    assert len(fake_wechat.calls_to("token")) == 2


async def test_window_closed_marks_row_failed_with_reason(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.fail_next("message/custom/send", 45015)
    await post(wx_bot, text_xml(ACME, "hello"))
    await fake_wechat.wait_for(lambda f: len(f.sent(ok_only=False)) >= 1)
    assert await wx_bot.settled() == ["failed"]
    [row] = await outbox_rows(wx_bot)
    assert "45015" in (row.last_error or "") and "window closed" in (row.last_error or "")
    assert len(fake_wechat.sent(ok_only=False)) == 1  # not retried: it cannot succeed


async def test_system_busy_is_retried_and_delivered_once(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    fake_wechat.fail_next("message/custom/send", -1, times=2)
    await post(wx_bot, text_xml(ACME, "hello"))
    await fake_wechat.wait_sent(1)
    assert await wx_bot.settled() == ["sent"]
    assert [c.errcode for c in fake_wechat.sent(ok_only=False)] == [-1, -1, 0]
    [row] = await outbox_rows(wx_bot)
    assert row.attempts == 3


async def test_other_errcodes_are_permanent(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    fake_wechat.fail_next("message/custom/send", 40003)  # invalid openid
    await post(wx_bot, text_xml(ACME, "hello"))
    await fake_wechat.wait_for(lambda f: len(f.sent(ok_only=False)) >= 1)
    assert await wx_bot.settled() == ["failed"]
    assert len(fake_wechat.sent(ok_only=False)) == 1


async def test_webhook_answers_success_while_the_api_is_stuck(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    gate = fake_wechat.block_sends()
    answer = asyncio.create_task(post(wx_bot, text_xml(ACME, "hello")))
    await asyncio.wait_for(fake_wechat.send_blocked.wait(), 10)
    # the bot's reply is stuck inside the API call, yet WeChat gets its answer
    resp = await asyncio.wait_for(answer, 10)
    assert not gate.is_set() and not fake_wechat.sent()
    assert resp.status == 200 and await resp.text() == "success"
    gate.set()
    await fake_wechat.wait_sent(1)
    assert await wx_bot.settled() == ["sent"]


# ---- the adapter's outbound rendering, against the fake API -------------------------------------


async def test_photo_is_uploaded_and_document_goes_as_signed_link(
    wx_bot: BotHarness, fake_wechat: FakeWeChat, tmp_path: Path
) -> None:
    adapter = wx_bot.runtime.adapters["wechat"]
    photo = b"\x89PNG\r\n\x1a\n" + b"p" * 1000
    pdf = b"%PDF-1.4 packing list"
    store = wx_bot.runtime.store
    psha, ppath, _ = await store.save_bytes(photo)
    dsha, dpath, _ = await store.save_bytes(pdf)
    out = OutboundMessage(
        channel=Channel.WECHAT,
        channel_user_id=ACME,
        text="Here are your documents",
        attachments=[
            Attachment(
                AttachmentKind.PHOTO, "image/png", filename="carton.png", sha256=psha, stored_path=str(ppath)
            ),
            Attachment(
                AttachmentKind.DOCUMENT,
                "application/pdf",
                filename="PL-0117.pdf",
                sha256=dsha,
                stored_path=str(dpath),
            ),
        ],
        idempotency_key="t1",
    )
    await adapter.send(out)
    text_call, image_call = fake_wechat.sent()
    assert "Here are your documents" in text_call.body["text"]["content"]
    link = text_call.body["text"]["content"].split("PL-0117.pdf: ")[1].strip()
    media = await wx_bot.client.get(link.replace(wx_bot.settings.server.public_url, ""))
    assert media.status == 200 and await media.read() == pdf
    assert image_call.body["msgtype"] == "image"
    assert fake_wechat.uploads[image_call.body["image"]["media_id"]] == photo


async def test_buttons_become_numbered_lines_and_long_text_is_split(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    from bot.messages import Button

    adapter = wx_bot.runtime.adapters["wechat"]
    await adapter.send(
        OutboundMessage(
            Channel.WECHAT,
            ACME,
            text="Is the bag unused?",
            buttons=[Button("Yes", "yes"), Button("No", "no")],
            idempotency_key="t2",
        )
    )
    assert fake_wechat.texts_to(ACME)[0] == "Is the bag unused?\n\n1. Yes\n2. No"
    long = "\n".join(f"第{i}行：订单明细" for i in range(400))
    await adapter.send(OutboundMessage(Channel.WECHAT, ACME, text=long, idempotency_key="t3"))
    pieces = fake_wechat.texts_to(ACME)[1:]
    assert len(pieces) > 1 and all(len(p.encode()) <= 2000 for p in pieces)
    assert "\n".join(pieces) == long


async def test_a_retry_after_a_partial_failure_does_not_repeat_what_was_sent(
    wx_bot: BotHarness, fake_wechat: FakeWeChat
) -> None:
    adapter = wx_bot.runtime.adapters["wechat"]
    long = "\n".join(f"第{i}行：订单明细" for i in range(300))  # several text parts
    out = OutboundMessage(Channel.WECHAT, ACME, text=long, idempotency_key="t5")
    fake_wechat.fail_next("message/custom/send", -1, after=1)
    with pytest.raises(SendError):
        await adapter.send(out)
    await adapter.send(out)
    assert [c.errcode for c in fake_wechat.sent(ok_only=False)][:2] == [0, -1]
    assert "\n".join(fake_wechat.texts_to(ACME)) == long  # every part exactly once, in order


async def test_wrong_app_secret_fails_the_row_with_the_reason(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    fake = await FakeWeChat(app_secret="the-real-secret").start()
    try:
        h = await start_bot(harness_factory, tmp_path, db_url, fake)
        await post(h, text_xml(ACME, "hello"))
        await fake.wait_for(lambda f: len(f.calls_to("token")) >= 1)
        assert await h.settled() == ["failed"]
        [row] = await outbox_rows(h)
        assert "40125" in (row.last_error or "")
        assert not fake.sent(ok_only=False)
    finally:
        await fake.close()


async def test_send_errors_are_classified(wx_bot: BotHarness, fake_wechat: FakeWeChat) -> None:
    adapter = wx_bot.runtime.adapters["wechat"]
    out = OutboundMessage(Channel.WECHAT, ACME, text="hi", idempotency_key="t4")
    for code, expect in ((45015, "window"), (-1, "retry"), (40003, "permanent")):
        fake_wechat.fail_next("message/custom/send", code)
        with pytest.raises(SendError) as info:
            await adapter.send(out)
        err = info.value
        assert (err.window_closed, err.permanent) == {
            "window": (True, False),
            "retry": (False, False),
            "permanent": (False, True),
        }[expect]


# ---- passive replies -----------------------------------------------------------------------------


def reply_of(body: bytes, *, aes: bool = False) -> dict[str, Any]:
    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    xml = body.decode()
    if aes:
        envelope = xmltodict.parse(xml)["xml"]
        xml = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
            xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
    return dict(xmltodict.parse(xml)["xml"])


@pytest.mark.parametrize("aes", [False, True])
async def test_passive_mode_answers_with_the_reply_itself(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, aes: bool
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=aes, reply_mode="passive")
    xml = text_xml(HAILANG, "你好")
    query, body = encrypt(xml) if aes else (signed_query(), xml.encode())
    resp = await post(h, body, query)
    assert resp.status == 200
    reply = reply_of(await resp.read(), aes=aes)
    assert (
        reply["MsgType"] == "text"
        and reply["ToUserName"] == HAILANG
        and reply["FromUserName"] == "gh_0123456789ab"
    )
    assert "请问有什么可以帮您" in reply["Content"]
    assert await h.settled() == ["sent"]
    [row] = await outbox_rows(h)
    assert (row.provider_message_id or "").startswith("passive:")
    assert not fake_wechat.sent(ok_only=False) and not fake_wechat.calls_to("token")


async def test_passive_mode_falls_back_to_the_api_when_the_reply_is_late(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, reply_mode="passive")
    h.runtime.adapters["wechat"].passive_budget = 0.0  # type: ignore[attr-defined]
    resp = await post(h, text_xml(ACME, "hello"))
    assert await resp.text() == "success"
    [call] = await fake_wechat.wait_sent(1)
    assert "How can we help" in call.body["text"]["content"]
    assert await h.settled() == ["sent"]


async def test_passive_mode_retry_gets_success_and_one_reply(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, reply_mode="passive")
    xml = text_xml(ACME, "hello")
    first = await post(h, xml)
    assert "How can we help" in reply_of(await first.read())["Content"]
    again = await post(h, xml)
    assert await again.text() == "success"
    assert await h.settled() == ["sent"]
    assert not fake_wechat.sent(ok_only=False)


# ---- simulate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("aes", [False, True])
async def test_simulate_builder_is_accepted_by_the_webhook(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, aes: bool
) -> None:
    from bot.tools.simulate import wechat_request

    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=aes)
    path, headers, body, provider_id = await wechat_request(h.settings, HAILANG, "我的订单在哪里", None)
    resp = await h.client.post(path, data=body, headers=headers)
    assert resp.status == 200
    await fake_wechat.wait_sent(1)
    async with h.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.provider_message_id == provider_id and msg.text == "我的订单在哪里"
