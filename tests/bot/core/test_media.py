"""The capped media store, signed links, and the media fetch: every hop's host, scheme, port and address.

The fetch is driven the way it runs in production: a provider's webhook names the media,
the adapter fetches it from the fake provider (tests/fakes) through channels.media_fetch.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.core.media import MediaLinks
from bot.messages import MediaRefused, MediaTooLarge
from channels.base import MediaStore
from channels.media_fetch import FetchRules, MediaFetcher, address_allowed
from storage.models import AttachmentRow
from tests.channels import test_wechat as wx
from tests.channels.test_whatsapp import ACME
from tests.channels.test_whatsapp import post as post_whatsapp
from tests.conftest import BotHarness, make_settings
from tests.fakes.twilio import CDN_HOST, FakeTwilio, inbound_form, whatsapp_settings
from tests.fakes.wechat import FakeWeChat, message_xml, next_msg_id


async def test_store_names_files_by_sha256_and_enforces_the_cap(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, max_bytes=10)
    sha, path, size = await store.save_bytes(b"0123456789")
    assert (
        sha == hashlib.sha256(b"0123456789").hexdigest() and path.read_bytes() == b"0123456789" and size == 10
    )
    with pytest.raises(MediaTooLarge):
        await store.save_bytes(b"x" * 11)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [sha]  # no half-written file left


def test_links_are_signed_and_expire(tmp_path: Path) -> None:
    links = MediaLinks(tmp_path, "https://bot.example", "key", ttl_seconds=60)
    sha = hashlib.sha256(b"x").hexdigest()
    (tmp_path / sha[:2]).mkdir()
    (tmp_path / sha[:2] / sha).write_bytes(b"x")
    token = links.token(sha, filename="packing list.pdf")
    assert links.url(sha).startswith("https://bot.example/media/")
    assert links.resolve(token) == (tmp_path / sha[:2] / sha, "packing_list.pdf")
    assert links.resolve(token, now=time.time() + 3600) is None
    tampered = token.replace(token.split(".")[1], str(int(token.split(".")[1]) + 1000))
    assert links.resolve(tampered) is None
    other = MediaLinks(tmp_path, "https://bot.example", "other-key", ttl_seconds=60)
    assert other.resolve(token) is None


async def test_media_route_serves_only_valid_links(tg_bot: BotHarness) -> None:
    sha, _path, _ = await tg_bot.runtime.store.save_bytes(b"%PDF-1.4 test")
    good = tg_bot.runtime.links.token(sha, filename="invoice.pdf")
    resp = await tg_bot.client.get(f"/media/{good}")
    assert resp.status == 200 and await resp.read() == b"%PDF-1.4 test"
    assert resp.headers["Content-Type"] == "application/pdf"
    resp = await tg_bot.client.get(f"/media/{sha}.1.{'0' * 32}")
    assert resp.status == 404


# ---- the rules every hop must pass ---------------------------------------------------------------------


def test_rules_allow_only_listed_hosts_on_the_providers_scheme_and_ports() -> None:
    prod = FetchRules.for_provider({"api.twilio.com", "media.twiliocdn.com"}, "https://api.twilio.com")
    assert prod.ports == {443} and prod.schemes == {"https"} and not prod.allow_loopback
    prod.check("https://media.twiliocdn.com/x.jpg")  # positive control
    prod.check("https://MEDIA.twiliocdn.com:443/x.jpg")
    for url in (
        "https://media.twiliocdn.com:8443/x.jpg",  # another port on an allowed host
        "http://media.twiliocdn.com/x.jpg",  # plain http, not the provider's scheme
        "https://evil.example/x.jpg",
        "https://user:pw@media.twiliocdn.com/x.jpg",
        "https://media.twiliocdn.com:99999/x.jpg",
        "file:///etc/passwd",
        "gopher://media.twiliocdn.com/",
    ):
        with pytest.raises(MediaRefused):
            prod.check(url)
    fake = FetchRules.for_provider({"127.0.0.1"}, "http://127.0.0.1:41234", allow_loopback=True)
    assert fake.ports == {443, 80, 41234} and fake.schemes == {"https", "http"}
    fake.check("http://127.0.0.1:41234/m")
    with pytest.raises(MediaRefused):
        fake.check("http://127.0.0.1:41235/m")


def test_addresses_must_be_public_and_the_loopback_exception_is_only_loopback() -> None:
    assert address_allowed("93.184.215.14", allow_loopback=False)
    assert address_allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c", allow_loopback=False)
    for private in ("10.0.0.1", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"):
        assert not address_allowed(private, allow_loopback=True), private
    for v6 in ("fe80::1", "fc00::1", "::", "ff02::1", "::ffff:10.0.0.1"):
        assert not address_allowed(v6, allow_loopback=True), v6
    for loop in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
        assert not address_allowed(loop, allow_loopback=False), loop
        assert address_allowed(loop, allow_loopback=True), loop
    listed = FetchRules.for_provider({"169.254.169.254", "10.1.2.3"}, "http://x:80", allow_loopback=True)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/"):
        with pytest.raises(MediaRefused):  # listed by address is not enough either
            listed.check(url)


# ---- a local server, reached by a name ------------------------------------------------------------------


async def test_a_listed_name_resolving_to_loopback_is_refused_unless_loopback_is_allowed(
    tmp_path: Path,
) -> None:
    hits: list[str] = []

    async def hop(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        n = int(request.match_info["n"])
        if n > 0:
            raise web.HTTPFound(f"/hop/{n - 1}")
        return web.Response(body=b"\xff\xd8\xff photo", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/hop/{n}", hop)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://localhost:{server.port}"
    store = MediaStore(tmp_path / "m", 1000)
    strict = MediaFetcher(FetchRules.for_provider({"localhost"}, base))
    test_only = MediaFetcher(FetchRules.for_provider({"localhost"}, base, allow_loopback=True))
    await strict.start()
    await test_only.start()
    try:
        with pytest.raises(MediaRefused, match="non-public"):
            await strict.fetch(f"{base}/hop/0", store)
        assert hits == [] and not (tmp_path / "m").exists()  # refused before connecting
        # positive control: the same fetch with the explicit test-only exception
        _sha, path, size, ctype = await test_only.fetch(f"{base}/hop/3", store)  # three redirects: the bound
        assert path.read_bytes() == b"\xff\xd8\xff photo" and ctype == "image/jpeg" and size == 9
        hits.clear()
        with pytest.raises(MediaRefused, match="too many redirects"):
            await test_only.fetch(f"{base}/hop/4", store)
        assert hits == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]  # the fourth redirect is not followed
    finally:
        await strict.close()
        await test_only.close()
        await server.close()


# ---- WhatsApp: the Twilio media redirect ----------------------------------------------------------------


async def _wa_bot(
    harness_factory: Any,
    tmp_path: Path,
    db_url: str,
    fake: FakeTwilio,
    allow_loopback: bool = True,
    **wa: Any,
) -> BotHarness:
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, whatsapp=replace(whatsapp_settings(fake), **wa))
    settings.media.allowed_hosts = [CDN_HOST]
    settings.media.allow_loopback = allow_loopback
    h: BotHarness = await harness_factory(settings)
    await seed(h.db)
    return h


async def _attachments(h: BotHarness) -> list[AttachmentRow]:
    async with h.db.read() as s:
        return list((await s.execute(select(AttachmentRow).order_by(AttachmentRow.id))).scalars())


def _stored_files(h: BotHarness) -> list[Path]:
    return [p for p in Path(h.settings.media.dir).rglob("*") if p.is_file()]


async def test_twilio_redirect_to_another_port_of_the_cdn_host_is_refused_and_nothing_stored(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await _wa_bot(harness_factory, tmp_path, db_url, fake_twilio)
    photo = b"\xff\xd8\xff\xe0 torn strap"
    ok_url = fake_twilio.add_media(photo, "image/jpeg")
    await post_whatsapp(h, inbound_form(ACME, "photo", media=[(ok_url, "image/jpeg")]))
    await fake_twilio.wait_created(1)
    await h.settled()
    [att] = await _attachments(h)
    assert att.error is None and Path(att.stored_path or "").read_bytes() == photo  # positive control
    assert len(fake_twilio.hits("cdn")) == 1 and "Authorization" not in fake_twilio.hits("cdn")[0].headers

    elsewhere = await FakeTwilio().start()  # the same CDN address, another port, serving a file
    try:
        elsewhere.add_media(b"\xff\xd8\xff\xe0 other", "image/jpeg")
        [key] = list(elsewhere.media)
        other_port = f"{elsewhere.cdn_url}/cdn/{key}"
        assert other_port.startswith(f"http://{CDN_HOST}:") and elsewhere.cdn_url != fake_twilio.cdn_url
        bad_url = fake_twilio.add_media(b"unused", "image/jpeg")
        fake_twilio.redirect_media_to(bad_url, other_port)
        await post_whatsapp(h, inbound_form(ACME, "another photo", media=[(bad_url, "image/jpeg")]))
        await fake_twilio.wait_created(2)
        await h.settled()
        assert elsewhere.hits("cdn") == []  # never contacted
    finally:
        await elsewhere.close()
    first, refused = await _attachments(h)
    assert refused.error == "refused" and refused.stored_path is None and refused.sha256 is None
    assert _stored_files(h) == [Path(first.stored_path or "")]
    assert any("could not download" in c.params["Body"] for c in fake_twilio.created())


@pytest.mark.parametrize("allow_loopback", [False, True], ids=["production", "explicit-test-exception"])
async def test_the_configured_api_host_is_address_checked_after_dns_too(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio, allow_loopback: bool
) -> None:
    """The API host is allow-listed by name; "localhost" still resolves to loopback and is refused."""
    api = fake_twilio.api_url.replace("127.0.0.1", "localhost")
    h = await _wa_bot(harness_factory, tmp_path, db_url, fake_twilio, allow_loopback, api_base_url=api)
    url = fake_twilio.add_media(b"\xff\xd8\xff\xe0 photo", "image/jpeg").replace("127.0.0.1", "localhost")
    await post_whatsapp(h, inbound_form(ACME, "photo", media=[(url, "image/jpeg")]))
    await fake_twilio.wait_created(1)
    await h.settled()
    [att] = await _attachments(h)
    if allow_loopback:
        assert att.error is None and att.sha256 and len(fake_twilio.hits("cdn")) == 1
    else:
        assert att.error == "refused" and att.stored_path is None and _stored_files(h) == []
        assert fake_twilio.hits("media") == [] and fake_twilio.hits("cdn") == []


# ---- WeChat: video_url on a host named in media.allowed_hosts ----------------------------------------------


@pytest.mark.parametrize("allow_loopback", [False, True], ids=["production", "explicit-test-exception"])
async def test_a_wechat_video_url_on_a_listed_name_resolving_to_loopback_is_refused(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, allow_loopback: bool
) -> None:
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, wechat=wx.wechat_settings(fake_wechat))
    settings.media.allowed_hosts = ["localhost"]
    settings.media.allow_loopback = allow_loopback
    h: BotHarness = await harness_factory(settings)
    await seed(h.db)
    video = fake_wechat.url.replace("127.0.0.1", "localhost") + "/video/v1.mp4"
    fake_wechat.add_media_json("VID_1", {"video_url": video})
    await wx.post(h, message_xml(wx.ACME, "video", MediaId="VID_1", ThumbMediaId="T", MsgId=next_msg_id()))
    await fake_wechat.wait_sent(1)
    await h.settled()
    [att] = await _attachments(h)
    if allow_loopback:
        assert att.error is None and att.sha256 and len(fake_wechat.calls_to("video")) == 1
    else:
        assert att.error == "refused" and att.stored_path is None and _stored_files(h) == []
        assert fake_wechat.calls_to("video") == []
