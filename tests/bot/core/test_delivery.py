"""A reply the client can never receive pages the on-call person; console Acknowledge stops the climb."""

from __future__ import annotations

from pathlib import Path

from storage.repos import staff as staff_repo
from tests.fakes.oncall import LI, alerts_to, escalation, escalation_settings, start_bot, write_rota
from tests.fakes.telegram import FakeTelegram, message_update

BLOCKED_CLIENT = 5550001


async def test_a_reply_refused_for_good_opens_a_delivery_failed_escalation(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        fake_telegram.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
        await h.post_telegram(message_update(BLOCKED_CLIENT, text="hello"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        esc = await escalation(h)
        assert esc.reason == "delivery_failed" and "blocked" in (esc.note or "")
        # the alert to staff is not itself a lost client message: exactly one escalation
        await h.settled()
        assert (await h.api("GET", "/api/escalations")).status == 200
        items = (await (await h.api("GET", "/api/escalations")).json())["items"]
        assert [e["reason"] for e in items] == ["delivery_failed"]
    finally:
        await h.close()


async def test_console_acknowledge_goes_through_the_escalation_service(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    from bot.web.console.passwords import hash_password

    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    try:
        async with h.db.write() as s:
            li = await staff_repo.get(s, "li")
            assert li is not None
            li.password_hash = hash_password("correct horse battery")
        await h.post_telegram(message_update(BLOCKED_CLIENT, text="URGENT: container stuck at customs"))
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        client = h.client
        login = await client.get("/console/login")
        token = (await login.text()).split('name="csrf" value="')[1].split('"')[0]
        resp = await client.post(
            "/console/login",
            data={"csrf": token, "username": "li", "password": "correct horse battery"},
            allow_redirects=False,
        )
        assert resp.status == 303
        page = await (await client.get("/console/escalations")).text()
        token = page.split('name="csrf" value="')[1].split('"')[0]
        resp = await client.post("/console/escalations/1/ack", data={"csrf": token}, allow_redirects=False)
        assert resp.status == 303
        esc = await escalation(h)
        assert (esc.state, esc.acknowledged_by, esc.next_due_at) == ("acknowledged", "li", None)
        # the service's acknowledgement edits the Telegram alert to show who took it
        await fake_telegram.wait_for(
            lambda f: any("li" in str(c.params).lower() for c in f.sent("editMessageText"))
        )
    finally:
        await h.close()
