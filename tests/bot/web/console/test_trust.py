"""Console sign-in as an attacker would try it: guessing in parallel, replaying cookies, spoofing proxies.

Everything goes through the real routes of the real app; what is asserted is what the
browser got back (status, Set-Cookie) and what the database holds afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.web.console.passwords import DEMO_PASSWORD, set_password
from config.settings import ServerSettings
from storage.models import AuditLog, ConsoleSession, LoginThrottle, Staff
from storage.repos import staff as staff_repo
from tests.bot.web.console.test_views import PASSWORD, add_staff, count, csrf_of, login
from tests.conftest import ADMIN_TOKEN, BotHarness, make_settings, wait_until

ATTACKER, STAFF_HOME = "203.0.113.9", "198.51.100.7"  # documentation addresses, only ever header values


async def bot(harness_factory: Any, tmp_path: Path, db_url: str, **server: Any) -> BotHarness:
    settings = make_settings(tmp_path, db_url)
    settings = replace(settings, server=ServerSettings(admin_token=ADMIN_TOKEN, **server))
    return await harness_factory(settings)


def cookie_value(resp: Any, name: str) -> str:
    for header in resp.headers.getall("Set-Cookie", []):
        if header.startswith(name + "="):
            return str(header.split(";", 1)[0].split("=", 1)[1])
    raise AssertionError(f"no {name} cookie set")


def set_cookie_header(resp: Any, name: str) -> str:
    return next(h for h in resp.headers.getall("Set-Cookie", []) if h.startswith(name + "="))


async def login_from(h: BotHarness, address: str, key: str = "li", password: str = PASSWORD) -> Any:
    form = await h.client.get("/console/login")
    data = {"csrf": csrf_of(await form.text()), "username": key, "password": password}
    return await h.client.post(
        "/console/login", data=data, headers={"X-Forwarded-For": address}, allow_redirects=False
    )


# ---- the throttle ---------------------------------------------------------------------------------------


async def test_fifteen_concurrent_wrong_guesses_get_at_most_five_password_checks(
    harness_factory: Any, tmp_path: Path, any_db_url: str
) -> None:
    h = await bot(harness_factory, tmp_path, any_db_url, trusted_proxies=["127.0.0.1"])
    await add_staff(h)
    form = await h.client.get("/console/login")
    csrf = csrf_of(await form.text())

    async def guess(i: int) -> int:
        resp = await h.client.post(
            "/console/login",
            data={"csrf": csrf, "username": "li", "password": f"wrong guess {i}"},
            headers={"X-Forwarded-For": ATTACKER},
            allow_redirects=False,
        )
        return int(resp.status)

    statuses = await asyncio.gather(*(guess(i) for i in range(15)))
    assert statuses.count(401) <= 5, statuses
    assert statuses.count(429) == 15 - statuses.count(401), statuses
    # the database agrees: at most five attempts were counted and five failures audited
    async with h.db.read() as s:
        row = (await s.execute(select(LoginThrottle).where(LoginThrottle.key == "account:li"))).scalar_one()
    assert row.count <= 5
    assert await count(h, AuditLog, AuditLog.action == "console_login_failed") == statuses.count(401)

    # the owner, from home: first told to wait (the delay is per account), then let in
    early = await login_from(h, STAFF_HOME)
    assert early.status == 429 and int(early.headers["Retry-After"]) >= 1
    assert "try again in" in await early.text()
    results: list[int] = []

    async def owner_gets_in() -> bool:
        resp = await login_from(h, STAFF_HOME)
        results.append(resp.status)
        return bool(resp.status == 303)

    await wait_until(owner_gets_in, timeout=15, interval=0.25)
    assert set(results[:-1]) <= {429}
    assert (await h.client.get("/console/claims", allow_redirects=False)).status == 200


async def test_the_account_delay_doubles_and_a_refused_attempt_does_not_extend_it(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    h = await bot(harness_factory, tmp_path, db_url, trusted_proxies=["127.0.0.1"])
    await add_staff(h)
    for i in range(5):
        assert (await login_from(h, ATTACKER, password=f"wrong {i}")).status == 401
    first = int((await login_from(h, ATTACKER, password="wrong 5")).headers["Retry-After"])
    # refused attempts count nowhere: the counter stays at 5
    for _ in range(3):
        assert (await login_from(h, ATTACKER, password="x" * 9)).status == 429
    async with h.db.read() as s:
        row = (await s.execute(select(LoginThrottle).where(LoginThrottle.key == "account:li"))).scalar_one()
    assert row.count == 5 and first <= 2

    async def sixth_guess_evaluated() -> bool:
        return bool((await login_from(h, ATTACKER, password="wrong 6")).status == 401)

    await wait_until(sixth_guess_evaluated, timeout=10, interval=0.25)
    second = int((await login_from(h, ATTACKER, password="wrong 7")).headers["Retry-After"])
    assert second >= 3  # 4 s after the sixth wrong answer, twice the first delay


async def test_one_address_gets_twenty_checks_whatever_names_it_tries(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    h = await bot(harness_factory, tmp_path, db_url, trusted_proxies=["127.0.0.0/8"])
    await add_staff(h)
    for i in range(20):  # four names, five guesses each: no account limit reached
        resp = await login_from(h, ATTACKER, key=f"name{i % 4}", password="wrong password")
        assert resp.status == 401, i
    blocked = await login_from(h, ATTACKER)  # even li's right password, from this address
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 60
    assert (await login_from(h, STAFF_HOME)).status == 303  # li from elsewhere: fine


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    """Rotating X-Forwarded-For does not reset the per-address count unless the peer is our proxy."""
    h = await bot(harness_factory, tmp_path, db_url, trusted_proxies=["10.0.0.0/8"])
    await add_staff(h)
    for i in range(20):
        assert (await login_from(h, f"192.0.2.{i}", key=f"n{i % 4}", password="wrong pass")).status == 401
    assert (await login_from(h, "192.0.2.200")).status == 429
    async with h.db.read() as s:
        keys = set((await s.execute(select(LoginThrottle.key))).scalars())
    assert "ip:127.0.0.1" in keys and not any(k.startswith("ip:192.0.2.") for k in keys)


# ---- server-side sessions -------------------------------------------------------------------------------


async def test_logout_revokes_the_session_so_the_old_cookie_opens_nothing(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    resp = await login(tg_bot)
    sid = cookie_value(resp, "aftersales_console")
    page = await tg_bot.client.get("/console/claims")
    out = await tg_bot.client.post(
        "/console/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False
    )
    assert out.status == 303
    assert await count(tg_bot, ConsoleSession) == 0
    # replay the cookie as an attacker who copied it would
    tg_bot.client.session.cookie_jar.update_cookies({"aftersales_console": sid})
    replay = await tg_bot.client.get("/console/claims", allow_redirects=False)
    assert replay.status == 302 and replay.headers["Location"].startswith("/console/login")
    post = await tg_bot.client.post(
        "/console/escalations/1/ack", data={"csrf": csrf_of(await page.text())}, allow_redirects=False
    )
    assert post.status == 303 and post.headers["Location"] == "/console/login"


async def test_each_sign_in_makes_a_new_session_id_stored_only_as_a_hash(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    form = await tg_bot.client.get("/console/login")
    before = cookie_value(form, "aftersales_console_login")
    first = cookie_value(await login(tg_bot), "aftersales_console")
    # signed in again from a login form the same browser still had open, the old cookie still set
    tg_bot.client.session.cookie_jar.clear()
    csrf = csrf_of(await (await tg_bot.client.get("/console/login")).text())
    tg_bot.client.session.cookie_jar.update_cookies({"aftersales_console": first})
    again = await tg_bot.client.post(
        "/console/login", data={"csrf": csrf, "username": "li", "password": PASSWORD}, allow_redirects=False
    )
    second = cookie_value(again, "aftersales_console")
    assert len({before, first, second}) == 3
    async with tg_bot.db.read() as s:
        stored = set((await s.execute(select(ConsoleSession.id_hash))).scalars())
    assert stored == {hashlib.sha256(second.encode()).hexdigest()}  # the first one was replaced
    assert first not in str(stored) and second not in str(stored)
    # an id the attacker planted before sign-in is never promoted to a session
    tg_bot.client.session.cookie_jar.clear()
    planted = "A" * 43
    tg_bot.client.session.cookie_jar.update_cookies({"aftersales_console": planted})
    assert cookie_value(await login(tg_bot), "aftersales_console") != planted
    tg_bot.client.session.cookie_jar.clear()
    tg_bot.client.session.cookie_jar.update_cookies({"aftersales_console": planted})
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 302


async def test_expired_session_is_refused(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    resp = await login(tg_bot)
    assert "Max-Age=43200" in set_cookie_header(resp, "aftersales_console")
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 200
    async with tg_bot.db.write() as s:  # twelve hours pass
        await s.execute(update(ConsoleSession).values(expires_at=ConsoleSession.created_at))
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 302


async def test_csrf_token_of_one_session_is_refused_in_another(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    await login(tg_bot)
    old_token = csrf_of(await (await tg_bot.client.get("/console/escalations")).text())
    tg_bot.client.session.cookie_jar.clear()
    await login(tg_bot)  # a new session
    page = await tg_bot.client.get("/console/escalations")
    new_token = csrf_of(await page.text())
    assert new_token != old_token
    refused = await tg_bot.client.post("/console/logout", data={"csrf": old_token}, allow_redirects=False)
    assert refused.status == 403
    ok = await tg_bot.client.post("/console/logout", data={"csrf": new_token}, allow_redirects=False)
    assert ok.status == 303


# ---- passwords ------------------------------------------------------------------------------------------


def scrypt_hash(password: str) -> str:
    """A hash as the console wrote them before argon2id (N=2^14, r=8, p=1)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


async def test_an_old_scrypt_hash_signs_in_once_and_is_stored_again_as_argon2id(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot, password=None)
    async with tg_bot.db.write() as s:
        await s.execute(update(Staff).where(Staff.key == "li").values(password_hash=scrypt_hash(PASSWORD)))
    assert (await login(tg_bot, password="not the password")).status == 401
    assert (await login(tg_bot)).status == 303
    async with tg_bot.db.read() as s:
        stored = (await s.execute(select(Staff.password_hash).where(Staff.key == "li"))).scalar_one()
    assert stored.startswith("$argon2id$") and "m=19456" in stored
    assert await count(tg_bot, AuditLog, AuditLog.action == "staff_password_rehashed") == 1
    # the new hash works, and the session of that sign-in survived the rehash
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 200
    tg_bot.client.session.cookie_jar.clear()
    assert (await login(tg_bot)).status == 303
    tg_bot.client.session.cookie_jar.clear()
    assert (await login(tg_bot, password="not the password")).status == 401


async def test_a_password_shorter_than_eight_never_signs_in(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot, password=None)
    async with tg_bot.db.write() as s:  # an old seed's "demo", written straight to the row
        await s.execute(update(Staff).where(Staff.key == "li").values(password_hash=scrypt_hash("demo")))
    assert (await login(tg_bot, password="demo")).status == 401
    from bot.web.console.passwords import PasswordError

    with pytest.raises(PasswordError, match="at least 8"):
        await set_password(tg_bot.db, "li", "demo")


# ---- demo credentials -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [False, True])
async def test_demo_seeded_li_signs_in_only_in_the_sandbox(
    harness_factory: Any, tmp_path: Path, db_url: str, sandbox: bool
) -> None:
    from bot.tools.demo import seed

    h = await bot(harness_factory, tmp_path, db_url, sandbox=sandbox)
    await seed(h.db, sandbox=True)  # seeded by the demo config, then served with this one
    resp = await login(h, "li", DEMO_PASSWORD)
    if sandbox:
        assert resp.status == 303
        assert (await h.client.get("/console/claims", allow_redirects=False)).status == 200
        return
    assert resp.status == 401 and "Wrong name or password" in await resp.text()
    assert not any(v.startswith("aftersales_console=") for v in resp.headers.getall("Set-Cookie", []))
    # a real password set by the operator clears the demo mark
    await set_password(h.db, "li", PASSWORD)
    assert (await login(h, "li", PASSWORD)).status == 303


async def test_a_session_opened_in_the_sandbox_ends_when_served_outside_it(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    from bot.tools.demo import seed

    demo = await bot(harness_factory, tmp_path, db_url, sandbox=True)
    await seed(demo.db, sandbox=True)
    sid = cookie_value(await login(demo, "li", DEMO_PASSWORD), "aftersales_console")
    prod = await bot(harness_factory, tmp_path, db_url, sandbox=False)
    prod.client.session.cookie_jar.update_cookies({"aftersales_console": sid})
    assert (await prod.client.get("/console/claims", allow_redirects=False)).status == 302


async def test_reseeding_replaces_an_old_seeds_short_demo_password(db_url: str) -> None:
    from bot.tools.demo import seed
    from bot.web.console.security import verify_password
    from storage.db import Database

    db = Database(db_url)
    try:
        async with db.write() as s:
            await staff_repo.upsert(s, "li", name="Li Wei", password_hash=scrypt_hash("demo"))
        await seed(db, sandbox=True)
        async with db.read() as s:
            li = await staff_repo.get(s, "li")
        assert li is not None and li.demo_password
        assert verify_password(DEMO_PASSWORD, li.password_hash) and len(DEMO_PASSWORD) >= 8
    finally:
        await db.dispose()


# ---- cookies behind a proxy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "forwarded", "secure"),
    [
        ([], "https", False),  # anyone can send the header: not believed
        (["10.0.0.0/8"], "https", False),  # a proxy list that does not include the peer
        (["127.0.0.1"], "https", True),  # our proxy says the browser's hop was TLS
        (["127.0.0.0/8"], "https", True),  # networks work too
        (["127.0.0.1"], "http", False),
        (["127.0.0.1"], None, False),
        (["127.0.0.1"], "https, http", False),  # our proxy's own value is the last one
    ],
)
async def test_secure_flag_follows_forwarded_proto_only_from_trusted_proxies(
    harness_factory: Any, tmp_path: Path, db_url: str, trusted: list[str], forwarded: str | None, secure: bool
) -> None:
    h = await bot(harness_factory, tmp_path, db_url, trusted_proxies=trusted)
    await add_staff(h)
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    form = await h.client.get("/console/login", headers=headers)
    pre = set_cookie_header(form, "aftersales_console_login")
    # sent back by hand: a client jar keeps a Secure cookie off plain http, as a browser would
    h.client.session.cookie_jar.clear()
    resp = await h.client.post(
        "/console/login",
        data={"csrf": csrf_of(await form.text()), "username": "li", "password": PASSWORD},
        headers={**headers, "Cookie": pre.split(";", 1)[0]},
        allow_redirects=False,
    )
    assert resp.status == 303
    session = set_cookie_header(resp, "aftersales_console")
    for cookie in (pre, session):
        assert ("Secure" in re.split(r";\s*", cookie)) is secure, cookie
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
