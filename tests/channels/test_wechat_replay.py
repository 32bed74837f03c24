"""WeChat replay: a captured signed push cannot be sent again and old timestamps are refused, on every DB."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.tools.demo import seed
from storage.db import Database
from storage.models import Message, OutboxRow, WeChatReplay
from storage.repos import replays
from tests.channels.test_wechat import reply_of, wechat_settings
from tests.conftest import BotHarness, make_settings
from tests.fakes.wechat import AES_KEY, APP_ID, OA_ID, TOKEN, FakeWeChat, text_xml

ACME = "oAbC123openid"  # demo client "acme", owner of PO-2026-0098 (shipped, Maersk MSKU7654321)
DAY = 86_400


def signed_at(timestamp: int) -> dict[str, str]:
    """The query WeChat would send at `timestamp`, signed with the real token by wechatpy's signer."""
    nonce = secrets.token_hex(5)
    signer = WeChatSigner()
    signer.add_data(TOKEN, str(timestamp), nonce)
    return {"signature": signer.signature, "timestamp": str(timestamp), "nonce": nonce}


def request_for(xml: str, *, aes: bool, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """A complete signed push (safe mode: wechatpy-encrypted with msg_signature), as WeChat sends it."""
    query = signed_at(int(time.time()) if timestamp is None else timestamp)
    if not aes:
        return query, xml.encode()
    envelope = xmltodict.parse(
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, query["nonce"], query["timestamp"])
    )["xml"]
    body = f"<xml><ToUserName><![CDATA[{OA_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]>"
    body += "</Encrypt></xml>"
    return {**query, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}, body.encode()


async def start(
    harness_factory: Any, tmp_path: Path, url: str, fake: FakeWeChat, *, aes: bool, mode: str = "api"
) -> BotHarness:
    h: BotHarness = await harness_factory(
        make_settings(tmp_path, url, wechat=wechat_settings(fake, aes=aes, reply_mode=mode))
    )
    return h


async def post(h: BotHarness, query: dict[str, str], body: bytes) -> Any:
    return await h.client.post(
        "/webhooks/wechat", params=query, data=body, headers={"Content-Type": "text/xml"}
    )


async def inbound_count(h: BotHarness) -> int:
    async with h.db.read() as s:
        return int(
            (
                await s.execute(select(func.count()).select_from(Message).where(Message.direction == "in"))
            ).scalar_one()
        )


async def outbox_count(h: BotHarness) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(OutboxRow))).scalar_one())


@pytest.mark.parametrize("aes", [False, True])
async def test_identical_post_sent_again_is_403_and_nothing_more_is_stored_or_sent(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_wechat: FakeWeChat, aes: bool
) -> None:
    h = await start(harness_factory, tmp_path, any_db_url, fake_wechat, aes=aes)
    query, body = request_for(text_xml(ACME, "hello"), aes=aes)
    first = await post(h, query, body)  # positive control: the genuine push is accepted and answered
    assert first.status == 200 and await first.text() == "success"
    await fake_wechat.wait_sent(1)
    assert await h.settled() == ["sent"]
    for _ in range(2):
        again = await post(h, query, body)
        assert again.status == 403
        assert "replay" in (await again.json())["error"]
    assert await h.settled() == ["sent"]
    assert await inbound_count(h) == 1 and await outbox_count(h) == 1
    assert len(fake_wechat.sent()) == 1


@pytest.mark.parametrize("aes", [False, True])
async def test_a_validly_signed_push_400_days_old_is_403_whatever_its_body(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, aes: bool
) -> None:
    h = await start(harness_factory, tmp_path, db_url, fake_wechat, aes=aes)
    for timestamp in (int(time.time()) - 400 * DAY, int(time.time()) - 301, int(time.time()) + 301):
        query, body = request_for(text_xml(ACME, "where is PO-2026-0098"), aes=aes, timestamp=timestamp)
        resp = await post(h, query, body)
        assert resp.status == 403, timestamp
        assert "timestamp" in (await resp.json())["error"]
    # positive control: inside the 300 s window the same kind of push is accepted
    query, body = request_for(text_xml(ACME, "hello"), aes=aes, timestamp=int(time.time()) - 250)
    assert (await post(h, query, body)).status == 200
    await fake_wechat.wait_sent(1)
    assert await h.settled() == ["sent"]
    assert await inbound_count(h) == 1


async def test_wechat_retry_of_the_same_msgid_with_a_new_nonce_is_answered_once(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    h = await start(harness_factory, tmp_path, db_url, fake_wechat, aes=True)
    xml = text_xml(ACME, "hello")
    for _ in range(3):  # each retry is signed afresh: its own nonce and signatures
        query, body = request_for(xml, aes=True)
        resp = await post(h, query, body)
        assert resp.status == 200 and await resp.text() == "success"
    await fake_wechat.wait_sent(1)
    assert await h.settled() == ["sent"]
    assert await inbound_count(h) == 1 and len(fake_wechat.sent()) == 1


@pytest.mark.parametrize("aes", [False, True])
async def test_passive_mode_replay_does_not_leak_the_order(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, aes: bool
) -> None:
    h = await start(harness_factory, tmp_path, db_url, fake_wechat, aes=aes, mode="passive")
    await seed(h.db)
    query, body = request_for(text_xml(ACME, "where is PO-2026-0098"), aes=aes)
    first = await post(h, query, body)
    assert first.status == 200
    assert "MSKU7654321" in reply_of(await first.read(), aes=aes)["Content"]  # the owner gets the status
    await h.settled()
    replayed = await post(h, query, body)
    assert replayed.status == 403
    text = await replayed.text()
    assert "MSKU7654321" not in text and "PO-2026-0098" not in text and "Maersk" not in text
    assert await h.settled() == ["sent"]
    assert await inbound_count(h) == 1 and not fake_wechat.sent(ok_only=False)


async def test_a_replay_to_another_process_sharing_the_database_is_403(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_wechat: FakeWeChat
) -> None:
    """Two servers on one database (behind a load balancer): the copy landing on the second is refused."""
    one = await start(harness_factory, tmp_path / "a", any_db_url, fake_wechat, aes=True)
    two = await start(harness_factory, tmp_path / "b", any_db_url, fake_wechat, aes=True)
    query, body = request_for(text_xml(ACME, "hello"), aes=True)
    assert (await post(one, query, body)).status == 200
    assert (await post(two, query, body)).status == 403
    fresh_query, fresh_body = request_for(text_xml(ACME, "and another thing"), aes=True)
    assert (await post(two, fresh_query, fresh_body)).status == 200  # positive control on the second
    await fake_wechat.wait_sent(2)
    await one.settled()
    await two.settled()
    assert await inbound_count(one) == 2 and len(fake_wechat.sent()) == 2


async def test_replay_rows_conflict_once_and_expired_ones_are_pruned(any_db_url: str) -> None:
    db = Database(any_db_url)
    try:
        now = int(time.time())
        async with db.write() as s:
            assert await replays.remember(s, now, "n1", "sig")
            assert not await replays.remember(s, now, "n1", "sig")
            assert await replays.remember(s, now, "n2", "sig")  # another nonce is another request
            assert await replays.remember(s, now - 400 * DAY, "old", "sig")
            assert await replays.prune(s, now - 300) == 1
        async with db.read() as s:
            rows = sorted(r.nonce for r in (await s.execute(select(WeChatReplay))).scalars())
        assert rows == ["n1", "n2"]
    finally:
        await db.dispose()
