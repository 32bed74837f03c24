"""Signed media links, the capped media store, and the allow-listed fetch with its redirect rule."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.media import MediaLinks
from bot.messages import MediaRefused, MediaTooLarge
from channels.base import MediaStore, fetch_to_store
from tests.conftest import BotHarness


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


async def test_fetch_follows_redirect_without_credentials_and_refuses_other_hosts(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    async def api(request: web.Request) -> web.StreamResponse:
        seen.append(("api", request.headers.get("Authorization")))
        raise web.HTTPTemporaryRedirect(str(cdn.make_url("/cdn/file.jpg")).replace("127.0.0.1", "localhost"))

    async def cdn_file(request: web.Request) -> web.StreamResponse:
        seen.append(("cdn", request.headers.get("Authorization")))
        return web.Response(body=b"jpegdata", content_type="image/jpeg")

    api_app, cdn_app = web.Application(), web.Application()
    api_app.router.add_get("/media/x", api)
    cdn_app.router.add_get("/cdn/file.jpg", cdn_file)
    api_srv, cdn = TestServer(api_app, host="127.0.0.1"), TestServer(cdn_app, host="127.0.0.1")
    await api_srv.start_server()
    await cdn.start_server()
    store = MediaStore(tmp_path, 1000)
    try:
        async with aiohttp.ClientSession() as http:
            _sha, path, size, ctype = await fetch_to_store(
                http,
                str(api_srv.make_url("/media/x")),
                store,
                allowed_hosts={"127.0.0.1", "localhost"},  # loopback hosts must be listed by name
                first_hop_headers={"Authorization": aiohttp.encode_basic_auth("AC1", "secret")},
            )
            assert path.read_bytes() == b"jpegdata" and ctype == "image/jpeg" and size == 8
            assert seen[0][1] is not None and seen[1] == ("cdn", None)
            with pytest.raises(MediaRefused):  # redirect target not allowed
                await fetch_to_store(
                    http, str(api_srv.make_url("/media/x")), store, allowed_hosts={"127.0.0.1"}
                )
            with pytest.raises(MediaRefused):  # host not allowed at all
                await fetch_to_store(http, "http://evil.example/x.jpg", store, allowed_hosts={"127.0.0.1"})
            with pytest.raises(MediaRefused):
                await fetch_to_store(http, "file:///etc/passwd", store, allowed_hosts={"127.0.0.1"})
    finally:
        await api_srv.close()
        await cdn.close()
