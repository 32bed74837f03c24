"""Images that come with a PicUrl but no MediaId, through the real signed route and the fake WeChat CDN."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.messages import MediaRefused
from channels.media_fetch import FetchRules
from channels.wechat_media import WECHAT_IMAGE_HOSTS, pic_url_to_fetch
from storage.models import AttachmentRow, Message
from tests.channels.test_wechat import ACME, post, start_bot
from tests.fakes.wechat import FakeWeChat, encrypt, message_xml, next_msg_id

PHOTO = b"\xff\xd8\xff\xe0" + b"scuffed corner on carton 7" * 100


def pic_only(openid: str, url: str, msg_id: int | None = None) -> str:
    return message_xml(openid, "image", PicUrl=url, MsgId=msg_id or next_msg_id())


async def only_attachment(h: Any) -> AttachmentRow:
    async with h.db.read() as s:
        return (await s.execute(select(AttachmentRow))).scalar_one()


async def test_an_image_with_only_a_pic_url_is_fetched_from_an_allowed_image_host(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, media_hosts=["127.0.0.1"])
    url = fake_wechat.add_picture("carton7", PHOTO)
    xml = pic_only(ACME, url)
    for _ in range(2):  # the retry of the same MsgId is one message, one download
        resp = await post(h, xml)
        assert resp.status == 200 and await resp.text() == "success"
    await fake_wechat.wait_sent(1)
    await h.settled()
    att = await only_attachment(h)
    assert att.kind == "photo" and att.error is None
    assert (
        att.sha256 == hashlib.sha256(PHOTO).hexdigest() and Path(att.stored_path or "").read_bytes() == PHOTO
    )
    assert len(fake_wechat.calls_to("picture")) == 1 and not fake_wechat.calls_to("media/get")


async def test_safe_mode_pic_url_image_is_fetched_too(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat, aes=True, media_hosts=["127.0.0.1"])
    query, body = encrypt(pic_only(ACME, fake_wechat.add_picture("p2", PHOTO, "image/png")))
    assert (await post(h, body, query)).status == 200
    await fake_wechat.wait_sent(1)
    await h.idle()
    att = await only_attachment(h)
    assert att.sha256 == hashlib.sha256(PHOTO).hexdigest() and att.mime == "image/png"


async def test_a_pic_url_on_any_other_host_is_never_fetched_but_the_message_is_kept(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    """Not a 400 (WeChat would show 'service unavailable'): stored, the client told, nothing fetched."""
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat)  # 127.0.0.1 is no image host
    for url in (
        fake_wechat.add_picture("evil", PHOTO),
        "http://169.254.169.254/latest/meta-data",
        "not a url",
    ):
        resp = await post(h, pic_only(ACME, url))
        assert resp.status == 200
    await fake_wechat.wait_for(lambda f: sum("could not download" in t for t in f.texts_to(ACME)) >= 1)
    await h.settled()
    async with h.db.read() as s:
        rows = list((await s.execute(select(AttachmentRow).order_by(AttachmentRow.id))).scalars())
        senders = set(
            (await s.execute(select(Message.channel_user_id).where(Message.direction == "in"))).scalars()
        )
    assert [a.error for a in rows] == ["refused", "refused", "refused"] and senders == {ACME}
    assert all(a.stored_path is None for a in rows)
    assert not fake_wechat.calls_to("picture")


async def test_an_image_with_neither_media_id_nor_pic_url_is_still_malformed(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start_bot(harness_factory, tmp_path, db_url, fake_wechat)
    resp = await post(h, message_xml(ACME, "image", MsgId=next_msg_id()))
    assert resp.status == 400


def test_wechat_image_hosts_are_asked_over_https_in_production() -> None:
    rules = FetchRules.for_provider(WECHAT_IMAGE_HOSTS, "https://api.weixin.qq.com/cgi-bin/")
    assert rules.schemes == frozenset({"https"}) and rules.ports == frozenset({443})
    url = pic_url_to_fetch("http://mmbiz.qpic.cn/mmbiz_jpg/abc/0", rules)
    assert url == "https://mmbiz.qpic.cn/mmbiz_jpg/abc/0"
    rules.check(url)  # passes; the http original would not
    with pytest.raises(MediaRefused):
        rules.check("http://mmbiz.qpic.cn/mmbiz_jpg/abc/0")
    with pytest.raises(MediaRefused):
        rules.check(pic_url_to_fetch("http://mmbiz.qpic.cn.evil.example/x", rules))
    http_rules = FetchRules.for_provider(["127.0.0.1"], "http://127.0.0.1:8000/cgi-bin/")
    assert pic_url_to_fetch("http://127.0.0.1:8000/p", http_rules) == "http://127.0.0.1:8000/p"
