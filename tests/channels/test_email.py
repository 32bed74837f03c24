"""Email end to end: a real Dovecot mailbox (IMAP, aioimaplib) in, a real aiosmtpd server (aiosmtplib) out.

Mail is delivered the way a provider delivers it: APPENDed to the mailbox the bot
watches. The bot waits in IDLE with `poll_seconds` set to an hour, so every reply in
these tests also proves IDLE picked the message up.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from channels.email import EmailAdapter
from channels.email_auth import sender_auth
from channels.email_mime import no_reply_reason, parse_mail
from channels.email_out import build_mail, reply_subject
from channels.email_text import trim_quoted
from config.settings import EmailSettings
from storage.channel_state import DbMailboxState
from storage.models import AttachmentRow, Counter, Message, OutboxRow
from tests.conftest import BotHarness, make_settings, wait_until
from tests.fakes.dovecot import (  # noqa: F401  (fixtures)
    Dovecot,
    append,
    dovecot_fixture,
    dovecot_without_idle_fixture,
    flags_of,
    imap_client,
)
from tests.fakes.smtp import FakeSmtp

SUPPORT = "support@factory.example"
ACME = "buyer@acme.example"
HAILANG = "caigou@hailang.example"
MX = "mx.factory.example"  # the receiving server the email tests' bots trust


def trusted_auth(address: str, verdict: str = "pass", *, server: str = MX) -> dict[str, str]:
    """The Authentication-Results header our MX writes for a mail From `address` (for mail(headers=…))."""
    domain = address.rpartition("@")[2]
    return {"Authentication-Results": f"{server}; spf={verdict} smtp.mailfrom={domain}; dmarc={verdict} "
            f"header.from={domain}"}  # fmt: skip


JPEG = b"\xff\xd8\xff\xe0" + b"torn strap photo" * 200


# ---- fixtures ------------------------------------------------------------------------------------


def email_settings(server: Dovecot, smtp: FakeSmtp, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_ssl": False,
        "imap_username": server.user,
        "imap_password": server.password,
        "mailbox": "INBOX",
        "poll_seconds": 3600,  # IDLE must do the work: a poll would come far too late for the tests
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "from_address": SUPPORT,
        **overrides,
    }
    return EmailSettings(**values)


@pytest_asyncio.fixture
async def make_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> AsyncIterator[Any]:
    from bot.tools.demo import seed

    async def factory(media_max_bytes: int = 5_000_000, url: str | None = None, **email: Any) -> BotHarness:
        settings = make_settings(tmp_path, url or db_url, email=email_settings(dovecot, smtp, **email))
        settings.media.max_bytes = media_max_bytes
        settings.media.dir = str(tmp_path / "media")
        h: BotHarness = BotHarness(settings)
        await seed(h.db)
        await h.start()
        harness_factory_started.append(h)
        adapter = adapter_of(h)
        await wait_until(lambda: _true(adapter.connected_once.is_set()), 15)
        return h

    harness_factory_started: list[BotHarness] = []
    yield factory
    for h in harness_factory_started:
        await h.close()


@pytest_asyncio.fixture
async def bot(make_bot: Any) -> BotHarness:
    h: BotHarness = await make_bot()
    return h


async def _true(value: bool) -> bool:
    return value


def adapter_of(h: BotHarness) -> EmailAdapter:
    adapter = h.runtime.adapters["email"]
    assert isinstance(adapter, EmailAdapter)
    return adapter


# ---- building client mail --------------------------------------------------------------------------


def mail(
    text: str = "hello",
    *,
    sender: str = ACME,
    subject: str = "Question",
    message_id: str | None = None,
    html: str | None = None,
    files: list[tuple[str, str, bytes]] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Buyer <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(__import__("datetime").datetime.now(__import__("datetime").UTC))
    mid = message_id or make_msgid(domain=sender.split("@")[1])
    msg["Message-ID"] = mid
    for k, v in (headers or {}).items():
        msg[k] = v
    if html is not None and not text:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    for mime, name, data in files or []:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(), mid


def gbk_mail(
    subject: str, body: str, *, declared: str = "gb2312", sender: str = HAILANG
) -> tuple[bytes, str]:
    """As Foxmail/Outlook-China send it: base64 GBK bytes under a GB2312 label, RFC 2047 subject."""
    mid = make_msgid(domain="hailang.example")
    encoded_subject = base64.b64encode(subject.encode("gbk")).decode()
    raw = (
        f"From: =?{declared}?B?{base64.b64encode('采购部'.encode('gbk')).decode()}?= <{sender}>\r\n"
        f"To: {SUPPORT}\r\n"
        f"Subject: =?{declared}?B?{encoded_subject}?=\r\n"
        f"Message-ID: {mid}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="{declared}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(body.encode("gbk")).replace(b"\n", b"\r\n")
    return raw, mid


async def count(h: BotHarness, model: type, *where: object) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def inbound(h: BotHarness) -> list[Message]:
    async with h.db.read() as s:
        rows = await s.execute(select(Message).where(Message.direction == "in").order_by(Message.id))
        return list(rows.scalars())


# ---- end to end ------------------------------------------------------------------------------------


async def test_plain_english_mail_gets_threaded_reply(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, mid = mail("hello", subject="Question about my order")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    reply = got.message
    assert reply["In-Reply-To"] == mid
    assert mid in reply["References"]
    assert reply["Subject"] == "Re: Question about my order"
    assert reply["From"] == SUPPORT
    assert reply["Auto-Submitted"] == "auto-replied"
    assert "How can we help" in got.text
    assert reply.get_body(("html",)) is not None  # a simple HTML alternative rides along
    assert got.mail_from == SUPPORT
    await bot.settled()
    [row] = await inbound(bot)
    assert row.provider_message_id == mid and row.channel_user_id == ACME
    assert row.payload["extra"]["subject"] == "Question about my order"
    flags = await flags_of(dovecot)
    assert all("\\Seen" in f for f in flags.values())


async def test_gbk_chinese_mail_with_rfc2047_subject_gets_chinese_reply(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    # 镕 is in GBK but not in GB2312: the label lies, as Chinese clients' labels often do.
    raw, mid = gbk_mail("询问订单 朱镕基", "你好，我想问一下订单的情况。\r\n")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(HAILANG)
    assert "请问有什么可以帮您" in got.text
    assert got.message["Subject"] == "Re: 询问订单 朱镕基"
    assert got.message["In-Reply-To"] == mid
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "你好，我想问一下订单的情况。"
    assert row.payload["sender_name"] == "采购部"


async def test_html_only_mail_is_read_as_text(bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Could I please <b>talk to a person</b>?</p><p>Thanks &amp; regards</p></body></html>"
    )
    raw, _ = mail("", html=html)
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    assert "colleague" in got.text
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "Could I please talk to a person?\nThanks & regards"
    assert "color" not in row.text


async def test_quoted_history_is_trimmed_for_intent_and_kept_in_full(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    body = (
        "hello again\n\n"
        "On Mon, 1 Jun 2026 at 10:00, Support <support@factory.example> wrote:\n"
        "> I want to talk to a person\n"
        "> about my order\n"
    )
    raw, _ = mail(body, subject="Re: Question")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    # The quoted "talk to a person" must not be taken as this message's intent.
    assert "How can we help" in got.text and "colleague" not in got.text
    assert got.message["Subject"] == "Re: Question"  # not "Re: Re:"
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "hello again"
    assert "talk to a person" in row.payload["extra"]["full_text"]


async def test_photo_attachment_is_stored_with_sha256(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("strap torn", files=[("image/jpeg", "IMG_0001.jpg", JPEG)])
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    await bot.settled()
    async with bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert Path(att.stored_path or "").read_bytes() == JPEG
    assert att.kind == "photo" and att.filename == "IMG_0001.jpg" and att.error is None


async def test_oversize_attachment_gets_clear_reply_and_text_still_handled(
    make_bot: Any, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await make_bot(media_max_bytes=50_000)
    big = b"\xff\xd8" + b"x" * 80_000
    raw, _ = mail("talk to a person please", files=[("image/jpeg", "huge.jpg", big)])
    await append(dovecot, raw)
    got = await smtp.wait_to(ACME, 2)
    texts = [g.text for g in got]
    assert any("too large" in t and "limit" in t for t in texts)
    assert any("colleague" in t for t in texts)
    await h.settled()
    async with h.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.error == "too_large" and att.stored_path is None and att.sha256 is None
    assert not list((Path(h.settings.media.dir)).rglob("*")) or all(
        hashlib.sha256(p.read_bytes()).hexdigest() != hashlib.sha256(big).hexdigest()
        for p in Path(h.settings.media.dir).rglob("*")
        if p.is_file()
    )


async def test_message_over_the_whole_size_cap_is_not_fetched_whole(
    make_bot: Any, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await make_bot(media_max_bytes=50_000)
    adapter_of(h).max_message_bytes = 200_000
    big = bytes(range(256)) * 2000  # 512 KB: more than the message cap and the partial read
    raw, _ = mail("hello, photos attached", files=[("image/jpeg", "a.jpg", big)])
    await append(dovecot, raw)
    got = await smtp.wait_to(ACME, 2)
    texts = [g.text for g in got]
    assert any("too large" in t for t in texts)
    assert any("How can we help" in t for t in texts)  # the text was read from the partial fetch
    await h.settled()
    [row] = await inbound(h)
    assert row.payload["extra"]["oversize_bytes"] > 200_000
    assert all("\\Seen" in f for f in (await flags_of(dovecot)).values())


async def test_auto_replies_bounces_and_list_mail_are_stored_but_never_answered(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    robots = [
        mail("I am out of the office", headers={"Auto-Submitted": "auto-replied"})[0],
        mail("newsletter", headers={"Precedence": "bulk"})[0],
        mail("list post", headers={"List-Id": "<buyers.lists.acme.example>"})[0],
        mail("away", headers={"X-Autoreply": "yes"})[0],
        mail("Delivery failed", sender="MAILER-DAEMON@mx.acme.example")[0],
        mail("a copy of our own reply", sender=SUPPORT)[0],
    ]
    dsn = EmailMessage()
    dsn["From"] = "postmaster@mx.acme.example"
    dsn["To"] = SUPPORT
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Message-ID"] = make_msgid(domain="mx.acme.example")
    dsn.set_content("This is the mail system: your message could not be delivered.")
    dsn.make_mixed()
    dsn.set_type("multipart/report")
    dsn.set_param("report-type", "delivery-status")
    robots.append(dsn.as_bytes())
    for raw in robots:
        await append(dovecot, raw)
    person, _ = mail("hello", sender="other@acme.example")
    await append(dovecot, person)
    await smtp.wait_to("other@acme.example")
    await wait_until(lambda: _true_count(bot, 8), 15)
    await bot.settled()
    assert len(smtp.received) == 1  # only the person got an answer
    rows = await inbound(bot)
    assert len(rows) == 8 and all(r.handled_at is not None for r in rows)
    assert sum(1 for r in rows if r.payload["extra"].get("no_reply")) == 7
    assert await count(bot, OutboxRow) == 1


async def _true_count(h: BotHarness, n: int) -> bool:
    return len(await inbound(h)) >= n


async def test_same_message_appended_twice_is_one_message_and_one_reply(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, mid = mail("hello")
    await append(dovecot, raw)
    await append(dovecot, raw)

    async def both_seen() -> bool:
        flags = await flags_of(dovecot)
        return len(flags) == 2 and all("\\Seen" in f for f in flags.values())

    await wait_until(both_seen, 15)
    await smtp.wait_to(ACME)
    await bot.settled()
    assert len(smtp.received) == 1
    assert [r.provider_message_id for r in await inbound(bot)] == [mid]


async def test_message_is_marked_seen_only_after_it_is_stored(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    adapter = adapter_of(bot)
    await bot.runtime.writer.stop()  # the database side is down: nothing can be committed
    raw, mid = mail("hello")
    await append(dovecot, raw)
    await wait_until(lambda: _true(adapter.submit_failures >= 1), 15)
    assert await count(bot, Message) == 0
    assert all("\\Seen" not in f for f in (await flags_of(dovecot)).values())
    await bot.runtime.writer.start()  # recovered: the poller reconnects and takes the message again
    await smtp.wait_to(ACME)
    assert all("\\Seen" in f for f in (await flags_of(dovecot)).values())
    assert [r.provider_message_id for r in await inbound(bot)] == [mid]


async def test_smtp_451_then_success_delivers_exactly_once(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    smtp.fail_next("451 4.3.0 Mail server temporarily rejected message")
    raw, _ = mail("hello")
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    assert await bot.settled() == ["sent"]
    assert smtp.attempts == 2 and len(smtp.received) == 1
    async with bot.db.read() as s:
        row = (await s.execute(select(OutboxRow))).scalar_one()
    assert row.attempts >= 1 and "451" in (row.last_error or "")


async def test_smtp_550_is_permanent_and_not_retried(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    smtp.fail_next("550 5.1.1 No such user", times=5)
    raw, _ = mail("hello")
    await append(dovecot, raw)

    async def failed() -> bool:
        return await bot.outbox_states() == ["failed"]

    await wait_until(failed, 15)
    assert smtp.attempts == 1 and not smtp.received


async def test_idle_picks_up_new_mail_without_waiting_for_the_poll(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    adapter = adapter_of(bot)
    assert adapter.idle_supported is True
    await wait_until(lambda: _true(adapter.idling.is_set()), 15)
    raw, _ = mail("hello")
    await append(dovecot, raw)  # poll_seconds is an hour: only IDLE can bring this in time
    await smtp.wait_to(ACME, timeout=15)
    health = await (await bot.client.get("/healthz")).json()
    assert health["details"]["email"]["connected"] is True
    assert health["details"]["email"]["last_error"] is None


async def test_claim_tag_is_kept_in_thread_and_reply_subject(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("hello", subject="RE: Broken strap [CLM-2026-000017]")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    assert got.message["Subject"] == "RE: Broken strap [CLM-2026-000017]"
    await bot.settled()
    [row] = await inbound(bot)
    assert row.payload["extra"]["tag"] == "CLM-2026-000017"


async def test_restart_resumes_after_the_last_uid(bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp) -> None:
    raw, _ = mail("hello")
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    await bot.settled()
    async with bot.db.read() as s:
        counters = list((await s.execute(select(Counter).where(Counter.name.like("imap:%")))).scalars())
    assert [c.value for c in counters] == [max(await flags_of(dovecot))]
    await bot.close()
    # Someone marks the handled mail unread in their mail client; a restarted bot must not take it again.
    client = await imap_client(dovecot)
    try:
        await client.uid("store", "1:*", "-FLAGS.SILENT", "(\\Seen)")
    finally:
        await client.logout()
    again = BotHarness(bot.settings)
    taken: list[str] = []
    original = adapter_of(again).submit
    assert original is not None

    async def counting(messages: list[Any]) -> Any:
        taken.extend(m.text for m in messages)
        return await original(messages)

    adapter_of(again).submit = counting
    await again.start()
    try:
        raw, _ = mail("second question", sender="other@acme.example")
        await append(dovecot, raw)
        await smtp.wait_to("other@acme.example")
        assert taken == ["second question"]
    finally:
        await again.close()


# ---- parsing, without servers ----------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["gb2312", "gbk", "gb18030"])
def test_chinese_charsets_and_encoded_subjects(declared: str) -> None:
    raw, _ = gbk_mail("质量问题：拉链坏了", "拉链坏了，怎么办？", declared=declared)
    parsed = parse_mail(raw)
    assert parsed.subject == "质量问题：拉链坏了"
    assert parsed.text == "拉链坏了，怎么办？"
    assert parsed.from_address == HAILANG and parsed.from_name == "采购部"


def test_utf8_body_and_raw_8bit_gbk_header() -> None:
    raw = (
        b"From: caigou@hailang.example\r\nSubject: "
        + "订单查询".encode("gbk")
        + b"\r\nMessage-ID: <x1@hailang.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "你好 😀".encode()
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "订单查询"
    assert parsed.text == "你好 😀"


@pytest.mark.parametrize(
    "body",
    [
        "Need help\n\nOn Tue, Jun 2, 2026 at 9:00 AM Support <s@f.example> wrote:\n> old",
        "Need help\n\nOn Tue, Jun 2, 2026 at 9:00 AM Support <s@f.example>\nwrote:\n> old",
        "Need help\n\n-----Original Message-----\nFrom: Support\nSent: Tuesday\nold",
        "Need help\n\n在 2026年6月2日 09:00，Support <s@f.example> 写道：\n> old",
        "Need help\n\nSupport <s@f.example> 于2026年6月2日周二 09:00写道：\n\n> old",
        "Need help\n\n------------------\xa0原始邮件\xa0------------------\n发件人: Support",
        "Need help\n\n发件人: Support <s@f.example>\n发送时间: 2026年6月2日\n主题: old",
        "Need help\n\nFrom: Support <s@f.example>\nSent: Tuesday, June 2, 2026\nTo: buyer\nSubject: old",
        "Need help\n-- \nAnna Buyer\nAcme Ltd, purchasing",
        "Need help\n\n发自我的iPhone",
        "> old quoted line\nNeed help",
    ],
)
def test_quoted_history_and_signatures_are_trimmed(body: str) -> None:
    assert trim_quoted(body) == "Need help"


def test_html_quotes_are_trimmed() -> None:
    raw, _ = mail("", html="<div>Fine, thanks</div><blockquote><p>talk to a person</p></blockquote>")
    parsed = parse_mail(raw)
    assert parsed.text == "Fine, thanks"
    assert "talk to a person" in parsed.full_text


def test_robot_mail_is_recognised() -> None:
    def reason(**headers: str) -> str | None:
        raw, _ = mail("x", headers=headers)
        return no_reply_reason(parse_msg(raw))

    assert reason() is None
    assert reason(**{"Auto-Submitted": "no"}) is None
    assert reason(**{"Auto-Submitted": "auto-generated"}) == "auto-submitted:auto-generated"
    assert reason(Precedence="junk") == "precedence:junk"
    assert reason(**{"List-Unsubscribe": "<mailto:u@l.example>"}) == "mailing-list"
    assert reason(**{"X-Autorespond": "yes"}) == "auto-reply-header"
    assert reason(**{"Return-Path": "<>"}) == "null-return-path"


def parse_msg(raw: bytes) -> EmailMessage:
    import email
    from email import policy

    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_only_the_trusted_servers_authentication_results_count() -> None:
    raw, _ = mail(
        "x",
        headers={
            "Authentication-Results": (
                "mx.factory.example; dkim=pass header.d=acme.example; spf=fail; dmarc=pass"
            ),
        },
    )
    forged = b"Authentication-Results: evil.example; dkim=pass; spf=pass; dmarc=fail\r\n"
    msg = parse_msg(
        raw.replace(b"\r\n\r\n", b"\r\n" + forged + b"\r\n", 1).replace(b"\n\n", b"\n" + forged + b"\n", 1)
    )
    verdict = sender_auth(msg, "mx.factory.example")
    assert verdict.authenticated and verdict.results == {"dkim": "pass", "spf": "fail", "dmarc": "pass"}
    assert parse_mail(raw, "", "mx.factory.example").extra()["sender_authenticated"] is True
    # the same mail believed from nobody: no trusted server configured
    assert parse_mail(raw).extra()["sender_authenticated"] is False


def test_reply_subject_and_threading_headers() -> None:
    assert reply_subject("Broken strap", "CLM-2026-000017") == "Re: Broken strap [CLM-2026-000017]"
    assert reply_subject("Re: Broken strap [CLM-2026-000017]", "CLM-2026-000017") == (
        "Re: Broken strap [CLM-2026-000017]"
    )
    assert reply_subject("回复：拉链", None) == "回复：拉链"
    msg = build_mail(
        from_address=SUPPORT,
        to=ACME,
        subject="Re: x",
        text="hi",
        message_id="<r1@factory.example>",
        in_reply_to="<c2@acme.example>",
        references=["<c1@acme.example>"],
    )
    assert msg["References"] == "<c1@acme.example> <c2@acme.example>"
    assert msg["Auto-Submitted"] == "auto-replied"


# ---- aftersales simulate email -------------------------------------------------------------------


async def test_simulate_email_appends_to_the_mailbox_and_prints_the_reply(
    bot: BotHarness, tmp_path: Path, smtp: FakeSmtp
) -> None:
    from bot.tools.simulate import render, simulate

    photo = tmp_path / "strap.jpg"
    photo.write_bytes(JPEG)
    effects = await simulate(bot.settings, "email", ACME, "hello", photo, timeout=15)
    assert any("Which order" in e["text"] for e in effects)  # a photo starts a defect claim
    assert "reply to email:buyer@acme.example" in render(effects)
    await smtp.wait_to(ACME)
    await bot.settled()
    async with bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.sha256 == hashlib.sha256(JPEG).hexdigest() and att.filename == "strap.jpg"


async def test_simulate_email_without_a_mailbox_uses_the_ingest_route(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    from dataclasses import replace

    from bot.tools.demo import seed
    from bot.tools.simulate import simulate

    settings = make_settings(tmp_path, db_url, email=EmailSettings(enabled=True, from_address=SUPPORT))
    settings.server.sandbox = True
    h = await harness_factory(settings)
    await seed(h.db)
    live = replace(settings, server=replace(settings.server, port=h.server.port))
    effects = await simulate(live, "email", HAILANG, "你好", None, timeout=15)
    assert any("请问有什么可以帮您" in e["text"] for e in effects)
    resp = await h.client.post("/api/email/ingest", data=b"From: x@y.example\r\n\r\nhi")
    assert resp.status == 401  # the route is behind the admin token


def test_simulate_email_stamps_the_trusted_servers_verdict(tmp_path: Path, db_url: str) -> None:
    """`simulate email` plays our receiving server: its mail is authenticated exactly when one is trusted."""
    from dataclasses import replace

    from bot.tools.simulate_email import build_client_mail

    settings = make_settings(
        tmp_path, db_url, email=EmailSettings(enabled=True, from_address=SUPPORT, trusted_authserv_id=MX)
    )
    raw, _ = build_client_mail(settings, "logistics@acme.example", "PO-2026-0117 status", None)
    assert parse_mail(raw, "", MX).extra()["sender_authenticated"] is True
    untrusted = replace(settings, email=replace(settings.email, trusted_authserv_id=""))
    raw, _ = build_client_mail(untrusted, "logistics@acme.example", "PO-2026-0117 status", None)
    assert b"Authentication-Results" not in raw


async def test_simulate_email_with_unreachable_imap_says_so(tmp_path: Path, db_url: str) -> None:
    from bot.tools.simulate import SimulateError, simulate
    from tests.fakes.dovecot import free_port

    port = free_port()
    settings = make_settings(
        tmp_path,
        db_url,
        email=EmailSettings(enabled=True, imap_host="127.0.0.1", imap_port=port, imap_ssl=False),
    )
    with pytest.raises(SimulateError) as err:
        await simulate(settings, "email", ACME, "hello", None, timeout=5)
    assert f"cannot reach the IMAP server at 127.0.0.1:{port}" in str(err.value)
    assert "\n" not in str(err.value)


async def test_round_trip_on_each_database(
    make_bot: Any, any_db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    h = await make_bot(url=any_db_url)
    raw, mid = mail("hello", subject="PO-2026-0117")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    assert got.message["In-Reply-To"] == mid
    await h.settled()
    assert [r.provider_message_id for r in await inbound(h)] == [mid]


async def test_send_attaches_stored_files_and_starts_a_thread_without_one(
    tmp_path: Path, db_url: str, smtp: FakeSmtp
) -> None:
    """An alert or document to an address that never wrote: default subject, file attached."""
    from bot.messages import Attachment, AttachmentKind, Channel, OutboundMessage
    from channels.base import MediaStore
    from storage.db import Database

    store = MediaStore(tmp_path / "media", 5_000_000)
    _sha, path, _ = await store.save_bytes(b"%PDF-1.4 packing list")
    db = Database(db_url)
    adapter = EmailAdapter(
        EmailSettings(
            enabled=True,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            from_address=SUPPORT,
        ),
        store,
        DbMailboxState(db),
    )
    out = OutboundMessage(
        Channel.EMAIL,
        "qc@factory.example",
        text="Packing list for PO-2026-0117",
        attachments=[
            Attachment(AttachmentKind.DOCUMENT, "application/pdf", filename="PL.pdf", stored_path=str(path))
        ],
        idempotency_key="doc:1",
        extra={"tag": "ESC-000042"},
    )
    try:
        provider_id = await adapter.send(out)
    finally:
        await db.dispose()
    [got] = smtp.to("qc@factory.example")
    msg = got.message
    assert msg["Message-ID"] == provider_id == adapter.message_id_for(out)
    assert msg["Subject"] == "After-sales / 售后服务 [ESC-000042]"  # a new thread: no "Re:"
    assert msg["In-Reply-To"] is None
    [pdf] = list(msg.iter_attachments())
    assert pdf.get_filename() == "PL.pdf" and pdf.get_content() == b"%PDF-1.4 packing list"


async def test_ingest_route_in_the_sandbox_refuses_oversize_files_politely(
    harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, email=EmailSettings(enabled=True, from_address=SUPPORT))
    settings.server.sandbox = True
    settings.media.max_bytes = 50_000
    h = await harness_factory(settings)
    await seed(h.db)
    raw, mid = mail("hello", files=[("image/jpeg", "big.jpg", b"\xff\xd8" + b"y" * 80_000)])
    resp = await h.api("POST", "/api/email/ingest", data=raw, headers={"Content-Type": "message/rfc822"})
    assert resp.status == 200 and (await resp.json())["message_id"] == mid
    await h.settled()
    assert h.runtime.sandbox is not None
    texts = [o.text for o in h.runtime.sandbox.sent]
    assert any("too large" in t for t in texts) and any("How can we help" in t for t in texts)
    again = await h.api("POST", "/api/email/ingest", data=raw)
    assert (await again.json())["new"] is False


async def test_wrong_imap_password_is_reported_in_healthz(
    dovecot: Dovecot, smtp: FakeSmtp, harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(
        tmp_path, db_url, email=email_settings(dovecot, smtp, imap_password="not-the-password")
    )
    h = await harness_factory(settings)
    adapter = adapter_of(h)
    await wait_until(lambda: _true(bool(adapter.last_error)), 20)
    health = await (await h.client.get("/healthz")).json()
    assert health["details"]["email"]["connected"] is False
    assert "login refused" in health["details"]["email"]["last_error"]


async def test_without_idle_the_mailbox_is_polled(
    dovecot_without_idle: Dovecot, smtp: FakeSmtp, harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    from bot.tools.demo import seed

    settings = make_settings(
        tmp_path, db_url, email=email_settings(dovecot_without_idle, smtp, poll_seconds=1)
    )
    h = await harness_factory(settings)
    await seed(h.db)
    adapter = adapter_of(h)
    await wait_until(lambda: _true(adapter.connected_once.is_set()), 15)
    assert adapter.idle_supported is False
    raw, mid = mail("hello")
    await append(dovecot_without_idle, raw)
    [got] = await smtp.wait_to(ACME)
    assert got.message["In-Reply-To"] == mid


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <>\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b"From: a@b.example\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n\xc4\xe3\xba\xc3",
        b"From: a@b.example\r\nSubject: =?x-unknown?B?////?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
        b"From: a@b.example\r\nContent-Type: image/jpeg; "
        b"name*=utf-8''%E2%80%AE..%2F..%2Fetc%2Fpasswd\r\n\r\nx",
    ],
)
def test_malformed_mail_never_raises(raw: bytes) -> None:
    parsed = parse_mail(raw, "<fallback@x>")
    assert parsed.message_id
    for part in parsed.parts:
        assert "/" not in (part.filename or "") and "\\" not in (part.filename or "")


def test_declared_charset_wrong_falls_back_to_gbk() -> None:
    raw = b"From: a@b.example\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n\xc4\xe3\xba\xc3"
    assert parse_mail(raw).text == "你好"


def test_unparseable_fallback_keeps_the_text_and_never_answers() -> None:
    from channels.email_mime import unparseable

    parsed = unparseable(b"From: Anna <Anna@Acme.example>\n\nthe body", "<f@x>")
    assert parsed.from_address == "anna@acme.example" and parsed.text == "the body"
    assert parsed.no_reply == "unparseable" and parsed.extra()["no_reply"] is True


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # loopback
async def test_smtp_auth_when_a_username_is_set(tmp_path: Path, db_url: str) -> None:
    from bot.messages import Channel, OutboundMessage, SendError
    from channels.base import MediaStore
    from storage.db import Database

    server = FakeSmtp(credentials=("bot@factory.example", "smtp-secret")).start()
    db = Database(db_url)
    try:

        def adapter(password: str) -> EmailAdapter:
            return EmailAdapter(
                EmailSettings(
                    enabled=True,
                    smtp_host="127.0.0.1",
                    smtp_port=server.port,
                    smtp_starttls=False,
                    smtp_username="bot@factory.example",
                    smtp_password=password,
                    from_address=SUPPORT,
                ),
                MediaStore(tmp_path / "media", 1_000_000),
                DbMailboxState(db),
            )

        out = OutboundMessage(Channel.EMAIL, ACME, text="hello", idempotency_key="auth:1")
        with pytest.raises(SendError) as err:
            await adapter("wrong").send(out)
        assert err.value.permanent and "535" in err.value.reason
        assert not server.received
        await adapter("smtp-secret").send(out)
        assert server.logins == ["bot@factory.example"] and len(server.to(ACME)) == 1
    finally:
        server.stop()
        await db.dispose()


async def test_starttls_configured_never_falls_back_to_plaintext(
    tmp_path: Path, db_url: str, smtp: FakeSmtp
) -> None:
    """aiosmtpd here offers no STARTTLS: with smtp_starttls on, nothing may be sent in the clear."""
    from bot.messages import Channel, OutboundMessage, SendError
    from channels.base import MediaStore

    adapter = EmailAdapter(
        EmailSettings(
            enabled=True, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=True, from_address=SUPPORT
        ),
        MediaStore(tmp_path / "media", 1_000_000),
    )
    out = OutboundMessage(Channel.EMAIL, ACME, text="hello", idempotency_key="tls:1", extra={"subject": "x"})
    with pytest.raises(SendError) as err:
        await adapter.send(out)
    assert "STARTTLS" in err.value.reason
    assert smtp.attempts == 0 and not smtp.received


async def test_mail_arriving_while_another_is_stored_is_not_left_waiting(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    adapter = adapter_of(bot)
    original = adapter.submit
    assert original is not None
    second, _ = mail("hello again", sender="other@acme.example")

    async def submit_and_meanwhile_receive(messages: list[Any]) -> Any:
        if messages[0].channel_user_id == ACME:
            await append(dovecot, second)  # lands while the first one is being stored
        return await original(messages)

    adapter.submit = submit_and_meanwhile_receive
    first, _ = mail("hello")
    await append(dovecot, first)
    await smtp.wait_to(ACME)
    await smtp.wait_to("other@acme.example", timeout=15)  # poll_seconds is an hour


async def test_mail_announced_with_a_search_that_missed_it_is_still_taken(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    """Dovecot may evaluate a search just before an APPEND lands and announce it in the same response.

    The client wrapper below makes that race happen every time: the search runs, the mail lands, a NOOP
    carries the server's one announcement of it, and the search response is handed back with that
    announcement, as Dovecot sends it. IDLE never announces it again; only a second pass finds it.
    """
    await bot.close()
    again = BotHarness(bot.settings)
    adapter = adapter_of(again)
    connect = adapter.connect
    late, _ = mail("announced late", sender="other@acme.example")
    raced: list[bool] = []

    async def racing_connect() -> Any:
        client = await connect()
        search = client.uid_search

        async def search_then_mail_lands(*criteria: str, charset: str | None = None) -> Any:
            resp = await search(*criteria, charset=charset)
            if not raced:
                raced.append(True)
                await append(dovecot, late)
                noop = await client.noop()
                resp.lines[:0] = [line for line in noop.lines if b"EXISTS" in bytes(line)]
            return resp

        client.uid_search = search_then_mail_lands
        return client

    adapter.connect = racing_connect
    await again.start()
    try:
        await smtp.wait_to("other@acme.example")  # poll_seconds is an hour: IDLE alone would never bring it
        assert raced == [True]
    finally:
        await again.close()
