"""The staff console at the HTTP level: real app, real cookies and forms, fake Telegram behind it."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.web.console.passwords import set_password
from bot.web.console.security import Signer, hash_password, verify_password
from storage.models import (
    AuditLog,
    Claim,
    ClaimEvent,
    ClaimEvidence,
    Conversation,
    Escalation,
    OutboxRow,
    Staff,
)
from storage.repos import staff as staff_repo
from tests.conftest import ADMIN_TOKEN, BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

ACME_CHAT = 5550001
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[4]


async def add_staff(h: BotHarness, key: str = "li", password: str | None = PASSWORD, **fields: Any) -> None:
    async with h.db.write() as s:
        await staff_repo.upsert(s, key, name=fields.pop("name", "Li Wei"), **fields)
    if password is not None:
        await set_password(h.db, key, password, actor="test")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def nonce_of(html: str) -> str:
    m = re.search(r'name="nonce" value="([^"]+)"', html)
    assert m, "page has no nonce field"
    return m.group(1)


async def login(h: BotHarness, key: str = "li", password: str = PASSWORD, next_path: str = "") -> Any:
    form_page = await h.client.get("/console/login" + (f"?next={next_path}" if next_path else ""))
    html = await form_page.text()
    data = {"csrf": csrf_of(html), "username": key, "password": password}
    m = re.search(r'name="next" value="([^"]*)"', html)
    if m:
        data["next"] = m.group(1)
    return await h.client.post("/console/login", data=data, allow_redirects=False)


async def count(h: BotHarness, model: type, *where: object) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def client_wrote(h: BotHarness, fake: FakeTelegram, **update: Any) -> int:
    """A Telegram client message, handled by the bot; returns its conversation id."""
    before = len(fake.sent())
    await h.post_telegram(message_update(ACME_CHAT, **update))
    await fake.wait_for(lambda f: len(f.sent()) > before)
    await h.settled()
    async with h.db.read() as s:
        return int(
            (await s.execute(select(Conversation.id).order_by(Conversation.id.desc()))).scalars().first()
        )


# ---- passwords and sessions ---------------------------------------------------------------------------


def test_password_hashes_are_salted_argon2id_and_verify() -> None:
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a.startswith("$argon2id$") and a != b  # per-user salt
    assert verify_password("s3cret-pass", a) and not verify_password("s3cret-pasS", a)
    assert not verify_password("", None) and not verify_password("x", "garbage")


async def test_login_opens_the_console_with_a_safe_cookie_and_is_audited(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    resp = await login(tg_bot)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/conversations"
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("aftersales_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    page = await tg_bot.client.get("/console/conversations")
    assert page.status == 200
    html = await page.text()
    assert "Conversations" in html and "Li Wei" in html
    assert "Content-Security-Policy" in page.headers
    assert (
        await count(tg_bot, AuditLog, AuditLog.action == "console_login", AuditLog.actor == "staff:li") == 1
    )
    async with tg_bot.db.read() as s:
        stored = (await s.execute(select(Staff.password_hash).where(Staff.key == "li"))).scalar_one()
    assert PASSWORD not in stored and stored.startswith("$argon2id$")


async def test_wrong_password_or_unknown_name_is_refused(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    for key, password in (("li", "wrong password"), ("nobody", PASSWORD), ("li", "")):
        resp = await login(tg_bot, key, password)
        assert resp.status == 401
        assert "Wrong name or password" in await resp.text()
        assert not any(v.startswith("aftersales_console=") for v in resp.headers.getall("Set-Cookie", []))
    page = await tg_bot.client.get("/console/conversations", allow_redirects=False)
    assert page.status == 302


async def test_staff_without_a_password_or_inactive_cannot_log_in(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot, "tom", password=None, name="Tom")
    await add_staff(tg_bot, "ann", name="Ann", active=False)
    assert (await login(tg_bot, "tom", "")).status == 401
    assert (await login(tg_bot, "ann", PASSWORD)).status == 401


async def test_five_failures_make_the_name_wait_before_the_next_try(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    for _ in range(5):
        assert (await login(tg_bot, "li", "guess")).status == 401
    locked = await login(tg_bot, "li", PASSWORD)  # even the right password, for a moment
    assert locked.status == 429 and int(locked.headers["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in await locked.text()
    assert not any(v.startswith("aftersales_console=") for v in locked.headers.getall("Set-Cookie", []))
    assert await count(tg_bot, AuditLog, AuditLog.action == "console_login_failed") == 5
    assert await count(tg_bot, AuditLog, AuditLog.action == "console_login_throttled") == 1
    # other names are not locked out by li's failures
    await add_staff(tg_bot, "tom", name="Tom")
    assert (await login(tg_bot, "tom", PASSWORD)).status == 303


async def test_unauthenticated_pages_redirect_to_login(tg_bot: BotHarness) -> None:
    for path in (
        "/console/",
        "/console/conversations",
        "/console/conversations/1",
        "/console/claims",
        "/console/claims/CLM-2026-000001",
        "/console/escalations",
    ):
        resp = await tg_bot.client.get(path, allow_redirects=True)
        assert resp.status == 200 and resp.url.path == "/console/login", path
        assert "Staff sign-in" in await resp.text()
    resp = await tg_bot.client.get("/console/escalations", allow_redirects=False)
    assert resp.headers["Location"] == "/console/login?next=/console/escalations"
    # a forged cookie is no session either
    tg_bot.client.session.cookie_jar.update_cookies({"aftersales_console": "e30.AAAA"})
    resp = await tg_bot.client.get("/console/claims", allow_redirects=False)
    assert resp.status == 302
    # posts without a session change nothing
    resp = await tg_bot.client.post(
        "/console/conversations/1/reply", data={"text": "hi", "nonce": "n" * 20}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    assert await count(tg_bot, OutboxRow) == 0
    # static assets are public
    assert (await tg_bot.client.get("/console/static/console.css")).status == 200


async def test_login_goes_back_to_the_page_asked_for_but_never_off_site(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    resp = await login(tg_bot, next_path="/console/escalations")
    assert resp.headers["Location"] == "/console/escalations"
    await tg_bot.client.post(
        "/console/logout", data={"csrf": csrf_of(await (await tg_bot.client.get("/console/claims")).text())}
    )
    for evil in ("//evil.example/x", "https://evil.example/", "/console//evil.example"):
        resp = await login(tg_bot, next_path=evil)
        assert resp.headers["Location"] == "/console/conversations", evil
        await tg_bot.client.post(
            "/console/logout",
            data={"csrf": csrf_of(await (await tg_bot.client.get("/console/claims")).text())},
        )


async def test_logout_and_password_change_end_the_session(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    await login(tg_bot)
    page = await tg_bot.client.get("/console/claims")
    resp = await tg_bot.client.post(
        "/console/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False
    )
    assert resp.status == 303
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 302

    await login(tg_bot)
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 200
    await set_password(tg_bot.db, "li", "a brand new password")
    assert (await tg_bot.client.get("/console/claims", allow_redirects=False)).status == 302


# ---- CSRF ---------------------------------------------------------------------------------------------


async def test_posts_without_the_csrf_token_are_403_and_change_nothing(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot)
    conv_id = await client_wrote(tg_bot, fake_telegram, text="hello")
    async with tg_bot.db.write() as s:
        s.add(Escalation(reason="urgent", priority="urgent", policy="urgent", conversation_id=conv_id))
    await login(tg_bot)
    html = await (await tg_bot.client.get(f"/console/conversations/{conv_id}")).text()
    rows_before = await count(tg_bot, OutboxRow)
    for token in (None, "", "forged-token", csrf_of(html)[:-1] + "x"):
        data = {"text": "hi from staff", "nonce": nonce_of(html)}
        if token is not None:
            data["csrf"] = token
        resp = await tg_bot.client.post(f"/console/conversations/{conv_id}/reply", data=data)
        assert resp.status == 403
        resp = await tg_bot.client.post("/console/escalations/1/ack", data={"csrf": token or ""})
        assert resp.status == 403
    assert await count(tg_bot, OutboxRow) == rows_before
    assert await count(tg_bot, Escalation, Escalation.state == "open") == 1
    # the login form is protected too (login CSRF)
    resp = await tg_bot.client.post("/console/login", data={"username": "li", "password": PASSWORD})
    assert resp.status == 403
    # a token from another session does not work either
    other = Signer(ADMIN_TOKEN).csrf_token("some-other-session")
    resp = await tg_bot.client.post(
        f"/console/conversations/{conv_id}/reply", data={"csrf": other, "text": "x", "nonce": "n" * 20}
    )
    assert resp.status == 403


# ---- pages --------------------------------------------------------------------------------------------


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_client_text_and_names_are_escaped_everywhere(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot)
    conv_id = await client_wrote(tg_bot, fake_telegram, text=XSS, first_name='<b onmouseover="x">Eve</b>')
    async with tg_bot.db.write() as s:
        claim = Claim(
            number="CLM-2026-000001",
            description=XSS,
            sku="<i>SKU</i>",
            order_number='"><svg onload=1>',
            conversation_id=conv_id,
        )
        s.add(claim)
        await s.flush()
        s.add(ClaimEvent(claim_id=claim.id, by="<script>", to_state="submitted", note=XSS))
        s.add(Escalation(reason="urgent", policy="urgent", note=XSS, conversation_id=conv_id))
    await login(tg_bot)
    for path in (
        "/console/conversations",
        f"/console/conversations/{conv_id}",
        "/console/claims",
        "/console/claims/CLM-2026-000001",
        "/console/escalations",
    ):
        html = await (await tg_bot.client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg" not in html, path
        assert "<b onmouseover" not in html and "<i>SKU" not in html, path
        assert "&lt;script&gt;" in html or "&lt;b onmouseover=" in html, path


async def test_conversation_page_shows_messages_photo_and_delivery(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot)
    photo = b"\xff\xd8\xff\xe0" + b"broken zipper" * 50
    fake_telegram.add_file("ZIP1", photo)
    conv_id = await client_wrote(
        tg_bot, fake_telegram, caption="zipper broke", photo_file_id="ZIP1", photo_size=len(photo)
    )
    await login(tg_bot)
    listing = await (await tg_bot.client.get("/console/conversations")).text()
    assert f'href="/console/conversations/{conv_id}"' in listing and "Anna" in listing
    html = await (await tg_bot.client.get(f"/console/conversations/{conv_id}")).text()
    assert "zipper broke" in html and "Acme Bags GmbH" in html
    assert re.search(r'class="msg out".*?badge sent', html, re.S), "outbound delivery state shown"
    [src] = set(re.findall(r'<img src="(/media/[^"]+)"', html))
    media = await tg_bot.client.get(src)
    assert media.status == 200 and await media.read() == photo
    assert hashlib.sha256(photo).hexdigest() in src


async def test_reply_goes_once_to_the_client_on_their_channel_even_if_posted_twice(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot)
    conv_id = await client_wrote(tg_bot, fake_telegram, text="hello, my order?")
    await login(tg_bot)
    html = await (await tg_bot.client.get(f"/console/conversations/{conv_id}")).text()
    form = {"csrf": csrf_of(html), "nonce": nonce_of(html), "text": "Hi Anna, Li here: shipping Friday."}
    for _ in range(2):  # a double tap, or a browser re-sending the form
        resp = await tg_bot.client.post(
            f"/console/conversations/{conv_id}/reply", data=form, allow_redirects=False
        )
        assert resp.status == 303
        assert resp.headers["Location"] == f"/console/conversations/{conv_id}?done=sent"
    await fake_telegram.wait_for(lambda f: "Hi Anna, Li here: shipping Friday." in f.texts_to(ACME_CHAT))
    await tg_bot.settled()
    assert fake_telegram.texts_to(ACME_CHAT).count("Hi Anna, Li here: shipping Friday.") == 1
    assert await count(tg_bot, OutboxRow, OutboxRow.idempotency_key.like("console:%")) == 1
    async with tg_bot.db.read() as s:
        conv = await s.get(Conversation, conv_id)
        audits = list((await s.execute(select(AuditLog).where(AuditLog.action == "console_reply"))).scalars())
    assert conv is not None and conv.state == "with_staff" and conv.assigned_staff == "li"
    assert conv.staff_since is not None
    assert [(a.actor, a.target) for a in audits] == [("staff:li", f"conversation:{conv_id}")]
    page = await (await tg_bot.client.get(f"/console/conversations/{conv_id}?done=sent")).text()
    assert "Reply queued" in page and "shipping Friday" in page
    # a new form render has a new nonce: a second, deliberate reply does go out
    again = {"csrf": csrf_of(page), "nonce": nonce_of(page), "text": "One more thing."}
    assert again["nonce"] != form["nonce"]
    await tg_bot.client.post(f"/console/conversations/{conv_id}/reply", data=again)
    await fake_telegram.wait_for(lambda f: "One more thing." in f.texts_to(ACME_CHAT))


async def test_reply_validation(tg_bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await add_staff(tg_bot)
    conv_id = await client_wrote(tg_bot, fake_telegram, text="hello")
    await login(tg_bot)
    html = await (await tg_bot.client.get(f"/console/conversations/{conv_id}")).text()
    csrf = csrf_of(html)
    post = tg_bot.client.post
    assert (
        await post(
            f"/console/conversations/{conv_id}/reply", data={"csrf": csrf, "nonce": "x" * 20, "text": "  "}
        )
    ).status == 422
    assert (
        await post(f"/console/conversations/{conv_id}/reply", data={"csrf": csrf, "text": "hi"})
    ).status == 400
    assert (
        await post("/console/conversations/999/reply", data={"csrf": csrf, "nonce": "x" * 20, "text": "hi"})
    ).status == 404
    assert await count(tg_bot, OutboxRow, OutboxRow.idempotency_key.like("console:%")) == 0


async def test_claims_list_and_page_show_evidence_and_events(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    photo = b"\x89PNG\r\n\x1a\n" + b"frayed strap" * 40
    sha, _path, _size = await tg_bot.runtime.store.save_bytes(photo)
    async with tg_bot.db.write() as s:
        claim = Claim(
            number="CLM-2026-000007",
            state="qc_review",
            order_number="PO-2026-0117",
            sku="BP-220",
            description="strap frayed after a week",
            unused=True,
        )
        s.add(claim)
        await s.flush()
        s.add(ClaimEvidence(claim_id=claim.id, sha256=sha, mime="image/png"))
        s.add(ClaimEvent(claim_id=claim.id, by="bot", from_state=None, to_state="submitted"))
        s.add(
            ClaimEvent(
                claim_id=claim.id, by="staff:li", from_state="submitted", to_state="qc_review", note="looking"
            )
        )
    await login(tg_bot)
    listing = await (await tg_bot.client.get("/console/claims")).text()
    assert "CLM-2026-000007" in listing and "PO-2026-0117" in listing and "BP-220" in listing
    html = await (await tg_bot.client.get("/console/claims/CLM-2026-000007")).text()
    for needle in ("qc_review", "strap frayed after a week", "staff:li", "looking", "BP-220"):
        assert needle in html
    [src] = re.findall(r'<img src="(/media/[^"]+)"', html)
    media = await tg_bot.client.get(src)
    assert (
        media.status == 200 and media.headers["Content-Type"] == "image/png" and await media.read() == photo
    )
    assert (await tg_bot.client.get("/console/claims/CLM-2026-999999")).status == 404


async def test_escalations_open_first_and_acknowledge(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    await add_staff(tg_bot, "tom", name="Tom")
    async with tg_bot.db.write() as s:
        s.add(Escalation(reason="handoff", policy="default", state="acknowledged", acknowledged_by="tom"))
        s.add(Escalation(reason="urgent", priority="urgent", policy="urgent", note="leaking dye"))
    await login(tg_bot)
    html = await (await tg_bot.client.get("/console/escalations")).text()
    assert html.index("ESC-000002") < html.index("ESC-000001")  # open first
    assert html.count(">Acknowledge</button>") == 1
    resp = await tg_bot.client.post(
        "/console/escalations/2/ack", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/console/escalations?done=acked"
    async with tg_bot.db.read() as s:
        esc = await s.get(Escalation, 2)
    assert esc is not None and esc.state == "acknowledged" and esc.acknowledged_by == "li"
    assert esc.acknowledged_at is not None and esc.next_due_at is None
    assert (
        await count(
            tg_bot, AuditLog, AuditLog.action == "escalation_acknowledged", AuditLog.target == "ESC-000002"
        )
        == 1
    )
    # pressing again (another tab) does not steal the acknowledgement
    resp = await tg_bot.client.post(
        "/console/escalations/2/ack", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert resp.headers["Location"] == "/console/escalations?done=taken"
    assert (
        await tg_bot.client.post("/console/escalations/99/ack", data={"csrf": csrf_of(html)})
    ).status == 404


# ---- the command line and the demo seed ---------------------------------------------------------------


def test_staff_passwd_command_sets_a_hash_from_stdin(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "a.db"}"\n')

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg), *args],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("db", "upgrade").returncode == 0
    missing = cli("staff", "passwd", "li", stdin="long enough password\n")
    assert missing.returncode == 2 and "no staff member 'li'" in missing.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("INSERT INTO staff (key, name, roles, active) VALUES ('li', 'Li Wei', '[]', 1)")
    short = cli("staff", "passwd", "li", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    ok = cli("staff", "passwd", "li", stdin="long enough password\n")
    assert ok.returncode == 0, ok.stderr
    with sqlite3.connect(tmp_path / "a.db") as conn:
        [(stored,)] = conn.execute("SELECT password_hash FROM staff WHERE key = 'li'").fetchall()
        [(actor,)] = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'staff_password_set'"
        ).fetchall()
    assert verify_password("long enough password", stored) and actor == "cli"


@pytest.mark.parametrize("sandbox", [True, False])
async def test_demo_seed_gives_li_a_demo_password_only_in_the_sandbox(db_url: str, sandbox: bool) -> None:
    from bot.tools.demo import seed
    from bot.web.console.passwords import DEMO_PASSWORD
    from storage.db import Database

    db = Database(db_url)
    try:
        await seed(db, sandbox=sandbox)
        await seed(db, sandbox=sandbox)  # idempotent
        async with db.read() as s:
            li = await staff_repo.get(s, "li")
        if sandbox:
            assert li is not None and verify_password(DEMO_PASSWORD, li.password_hash) and li.demo_password
        else:
            assert li is None
    finally:
        await db.dispose()


async def test_capitalised_name_from_a_phone_keyboard_still_signs_in(tg_bot: BotHarness) -> None:
    await add_staff(tg_bot)
    assert (await login(tg_bot, "Li ", PASSWORD)).status == 303


# ---- the console's queries and writes on SQLite and PostgreSQL -----------------------------------------


async def test_console_repo_on_each_database(any_db_url: str) -> None:
    from datetime import timedelta

    from escalation.rota import Rota
    from escalation.service import EscalationService
    from storage.db import Database
    from storage.models import Client, Contact, Message, utcnow
    from storage.repos import audit, login_throttle
    from storage.repos import console as repo

    db = Database(any_db_url)
    try:
        async with db.write() as s:
            client = Client(key="acme", name="Acme")
            s.add(client)
            await s.flush()
            contact = Contact(channel="telegram", channel_user_id="5550001", client_id=client.id, name="Anna")
            s.add(contact)
            await s.flush()
            conv = Conversation(contact_id=contact.id, channel="telegram")
            s.add(conv)
            await s.flush()
            s.add(
                Message(
                    channel="telegram",
                    direction="in",
                    channel_user_id="5550001",
                    conversation_id=conv.id,
                    text="hi",
                )
            )
            s.add(Escalation(reason="handoff", policy="default", state="resolved"))
            s.add(Escalation(reason="urgent", policy="urgent", conversation_id=conv.id))
            await audit.record(s, "anonymous", repo.LOGIN_FAILED, repo.login_target("li"))
            conv_id = conv.id
        for _ in range(2):
            async with db.write() as s:
                result = await repo.staff_reply(s, conv_id, "li", "on it", "nonce-0123456789abcdef")
                assert result is not None
        # the console acknowledges through the escalation service (its own UPDATE is gone)
        service = EscalationService(Rota(timezone="UTC", staff={}, rotations={}))
        async with db.write() as s:
            assert await service.acknowledge_id(s, 2, "li", via="console") is True
        async with db.write() as s:
            assert await service.acknowledge_id(s, 2, "tom", via="console") is False
            assert await repo.staff_reply(s, 999, "li", "x", "nonce-0123456789abcdef") is None
        async with db.read() as s:
            rows = list((await s.execute(select(OutboxRow))).scalars())
            assert [(r.channel, r.channel_user_id, r.payload["text"]) for r in rows] == [
                ("telegram", "5550001", "on it")
            ]
            last = await repo.last_messages(s, [conv_id])
            assert last[conv_id].text == "on it" and last[conv_id].direction == "out"
            escs = await repo.list_escalations(s)
            assert [(e.id, e.state, e.acknowledged_by) for e in escs] == [
                (2, "acknowledged", "li"),
                (1, "resolved", None),
            ]
            conv_row = await s.get(Conversation, conv_id)
            assert conv_row is not None and (conv_row.state, conv_row.assigned_staff) == ("with_staff", "li")
        # the sign-in counters: counted, locked, counted again after the lock, forgotten after quiet
        hour, now = timedelta(hours=1), utcnow()
        async with db.write() as s:
            assert await login_throttle.take(s, "account:li", now, hour) == 1
            assert await login_throttle.take(s, "account:li", now, hour) == 2
            await login_throttle.lock(s, "account:li", now + timedelta(seconds=30))
            await login_throttle.lock(s, "account:li", now + timedelta(seconds=5))  # never shortened
            assert await login_throttle.take(s, "account:li", now + timedelta(seconds=29), hour) is None
            assert await login_throttle.take(s, "account:li", now + timedelta(seconds=31), hour) == 3
            assert await login_throttle.take(s, "account:li", now + timedelta(hours=3), hour) == 1
            assert await login_throttle.take(s, "ip:203.0.113.9", now, hour) == 1
            await login_throttle.refund(s, "ip:203.0.113.9")
            await login_throttle.clear(s, "account:li")
        async with db.read() as s:
            assert await login_throttle.get(s, "account:li") is None
            ip_row = await login_throttle.get(s, "ip:203.0.113.9")
            assert ip_row is not None and ip_row.count == 0
    finally:
        await db.dispose()
