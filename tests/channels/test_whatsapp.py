"""WhatsApp end to end: real webhook routes, twilio's validator and REST client, a fake Twilio on 127.0.0.1.

Inbound forms are in Twilio's real format and signed with `RequestValidator.compute_signature`
over the configured public URL; the bot's replies reach the fake Messages API through
twilio-python's `AsyncTwilioHttpClient`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.messages import Attachment, AttachmentKind, Channel, OutboundMessage
from storage.models import AttachmentRow, Message, OutboxRow
from storage.repos import outbox as outbox_repo
from storage.repos import staff as staff_repo
from tests.conftest import BotHarness, make_settings
from tests.fakes.twilio import (
    CDN_HOST,
    FROM_NUMBER,
    FakeTwilio,
    encode,
    inbound_form,
    new_sid,
    sign,
    status_form,
    whatsapp_settings,
)

ACME = "whatsapp:+491701234567"  # demo client "acme", English
HAILANG = "whatsapp:+8613900000002"  # demo client "hailang", Chinese
LI = "whatsapp:+8613800000001"  # staff, sales
TEMPLATE = "HX" + "b" * 32
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


async def make_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, fake: FakeTwilio, **whatsapp: Any
) -> BotHarness:
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake, **whatsapp))
    settings.media.allowed_hosts = [CDN_HOST]
    h = await harness_factory(settings)
    await seed(h.db)
    return h


@pytest_asyncio.fixture
async def wa_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio) -> BotHarness:
    return await make_bot(harness_factory, tmp_path, db_url, fake_twilio)


async def post(
    h: BotHarness,
    pairs: list[tuple[str, str]],
    *,
    path: str = "/webhooks/whatsapp",
    signature: str | None = "sign",
    body: bytes | None = None,
) -> Any:
    headers = dict(FORM)
    if signature == "sign":
        signature = sign(h.settings.server.public_url + path, pairs)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await h.client.post(path, data=body if body is not None else encode(pairs), headers=headers)


async def count(h: BotHarness, model: type, *where: object) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def add_staff(h: BotHarness) -> None:
    async with h.db.write() as s:
        await staff_repo.upsert(s, "li", name="Li Wei", whatsapp=LI, roles=["qc", "sales"])
        await staff_repo.upsert(s, "tom", name="Tom QC", whatsapp="whatsapp:+8613800000009", roles=["qc"])


async def conversation_messages(h: BotHarness) -> list[dict[str, Any]]:
    convs = await (await h.api("GET", "/api/conversations")).json()
    conv = next(c for c in convs["items"] if c["contact"]["id"] == ACME)
    return (await (await h.api("GET", f"/api/conversations/{conv['id']}/messages")).json())["items"]


# ---- inbound text, buttons, replies -------------------------------------------------------------------


async def test_text_reply_reaches_twilio(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    resp = await post(wa_bot, inbound_form(ACME, "hello"))
    assert resp.status == 200
    assert resp.content_type == "text/xml"
    assert await resp.text() == EMPTY_TWIML
    [call] = await fake_twilio.wait_created(1)
    assert call.params["To"] == ACME and call.params["From"] == FROM_NUMBER
    body = call.params["Body"]
    assert "Hello Anna Schmidt! How can we help" in body
    # the menu's buttons are numbered lines, and not twice
    assert body.count("1. Order status") == 1 and "4. Talk to a person" in body
    assert call.params["StatusCallback"] == "http://127.0.0.1:8080/webhooks/whatsapp/status"
    assert await wa_bot.settled() == ["sent"]


async def test_chinese_text_and_emoji_get_chinese_reply(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    await post(wa_bot, inbound_form(HAILANG, "你好 👋 在吗"))
    [call] = await fake_twilio.wait_created(1)
    assert "请问有什么可以帮您" in call.params["Body"]
    async with wa_bot.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.text == "你好 👋 在吗"


async def test_digit_after_menu_picks_the_choice(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    await post(wa_bot, inbound_form(ACME, "hi"))
    await fake_twilio.wait_created(1)
    await post(wa_bot, inbound_form(ACME, "1"))
    calls = await fake_twilio.wait_created(2)
    assert "order number" in calls[1].params["Body"]


async def test_button_reply_uses_the_payload(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    await post(wa_bot, inbound_form(ACME, "Report a defect", button=("Report a defect", "menu:claim")))
    [call] = await fake_twilio.wait_created(1)
    assert "photos or a video" in call.params["Body"]
    async with wa_bot.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.payload["is_button"] is True and msg.text == "menu:claim"


async def test_quoted_message_becomes_reply_to(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    quoted = new_sid("SM")
    await post(wa_bot, inbound_form(ACME, "about this", replied_to=quoted))
    await fake_twilio.wait_created(1)
    async with wa_bot.db.read() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert msg.payload["reply_to"] == quoted
    assert msg.payload["sender_name"] == "Anna Schmidt"
    assert msg.payload["extra"]["wa_id"] == "491701234567"


# ---- signatures and malformed forms ----------------------------------------------------------------------


async def test_bad_or_missing_signature_is_403_and_nothing_stored(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    pairs = inbound_form(ACME, "hello")
    url = wa_bot.settings.server.public_url + "/webhooks/whatsapp"
    for signature in (
        None,
        "",
        "bm90IGEgc2lnbmF0dXJl",
        sign(url, pairs, token="someone-elses-token"),
        sign(url.replace("http://", "https://"), pairs),  # signed for another URL
        sign(url + "?x=1", pairs),
    ):
        resp = await post(wa_bot, pairs, signature=signature)
        assert resp.status == 403, signature
        assert "Signature" in (await resp.json())["error"]
    assert await count(wa_bot, Message) == 0
    assert fake_twilio.calls == []


async def test_tampered_or_added_param_is_403(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    pairs = inbound_form(ACME, "hello")
    signature = sign(wa_bot.settings.server.public_url + "/webhooks/whatsapp", pairs)
    tampered = [(k, "talk to a person" if k == "Body" else v) for k, v in pairs]
    assert (await post(wa_bot, tampered, signature=signature)).status == 403
    added = [*pairs, ("MediaUrl1", "https://evil.example/x")]
    assert (await post(wa_bot, added, signature=signature)).status == 403
    other_sender = [(k, HAILANG if k == "From" else v) for k, v in pairs]
    assert (await post(wa_bot, other_sender, signature=signature)).status == 403
    assert await count(wa_bot, Message) == 0
    # the untouched form with the same signature is fine
    assert (await post(wa_bot, pairs, signature=signature)).status == 200


async def test_query_string_is_part_of_the_signed_url(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    pairs = inbound_form(ACME, "hello")
    path = "/webhooks/whatsapp?tenant=eu"
    resp = await post(wa_bot, pairs, path=path)
    assert resp.status == 200
    await fake_twilio.wait_created(1)


async def test_duplicate_keys_are_signed_as_twilio_does(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    pairs = [*inbound_form(ACME, "hello"), ("Extra", "b"), ("Extra", "a")]
    assert (await post(wa_bot, pairs)).status == 200
    # dropping one of the repeated values changes what was signed
    signature = sign(wa_bot.settings.server.public_url + "/webhooks/whatsapp", pairs)
    assert (await post(wa_bot, pairs[:-1], signature=signature)).status == 403


async def test_malformed_signed_form_is_400(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    good = inbound_form(ACME, "hello")
    # NumMedia is only a hint (the MediaUrl{N} present are the files) and an SMS From is a
    # client texting the number (tests/channels/test_whatsapp_form.py): neither is malformed.
    cases = [
        [(k, v) for k, v in good if k not in {"MessageSid", "SmsMessageSid", "SmsSid"}],
        [(k, "SM 1;drop" if k == "MessageSid" else v) for k, v in good],
        [(k, v) for k, v in good if k != "From"],
        [(k, "whatsapp:+49 170" if k == "From" else v) for k, v in good],
    ]
    for pairs in cases:
        resp = await post(wa_bot, pairs)
        assert resp.status == 400, pairs
        assert "error" in await resp.json()
    resp = await post(wa_bot, [], body=b"\xff\xfe\x00garbage", signature="x")
    assert resp.status == 400
    assert await count(wa_bot, Message) == 0


async def test_form_for_another_account_is_403(wa_bot: BotHarness) -> None:
    resp = await post(wa_bot, inbound_form(ACME, "hello", account_sid="AC" + "f" * 32))
    assert resp.status == 403
    assert await count(wa_bot, Message) == 0


async def test_same_message_sid_twice_gives_one_message_and_one_reply(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_twilio: FakeTwilio
) -> None:
    wa_bot = await make_bot(harness_factory, tmp_path, any_db_url, fake_twilio)
    pairs = inbound_form(ACME, "hello")
    for _ in range(3):
        resp = await post(wa_bot, pairs)
        assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    await fake_twilio.wait_created(1)
    assert await wa_bot.settled() == ["sent"]
    assert await count(wa_bot, Message, Message.direction == "in") == 1
    assert len(fake_twilio.created()) == 1


# ---- inbound media --------------------------------------------------------------------------------------


async def test_two_photos_are_stored_and_the_cdn_gets_no_credentials(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    one = b"\xff\xd8\xff\xe0" + b"torn strap" * 300
    two = b"\x89PNG\r\n\x1a\n" + b"broken zipper" * 300
    msid = new_sid("MM")
    media = [
        (fake_twilio.add_media(one, "image/jpeg", message_sid=msid), "image/jpeg"),
        (fake_twilio.add_media(two, "image/png", message_sid=msid), "image/png"),
    ]
    await post(wa_bot, inbound_form(ACME, "strap and zipper broken", sid=msid, media=media))
    await fake_twilio.wait_created(1)
    await wa_bot.settled()
    async with wa_bot.db.read() as s:
        atts = list((await s.execute(select(AttachmentRow).order_by(AttachmentRow.id))).scalars())
    assert [a.sha256 for a in atts] == [hashlib.sha256(one).hexdigest(), hashlib.sha256(two).hexdigest()]
    assert [Path(a.stored_path).read_bytes() for a in atts] == [one, two]
    assert [a.mime for a in atts] == ["image/jpeg", "image/png"]
    assert all(a.kind == "photo" and a.error is None for a in atts)
    api_hits, cdn_hits = fake_twilio.hits("media"), fake_twilio.hits("cdn")
    assert len(api_hits) == 2 and len(cdn_hits) == 2
    assert all(h.headers.get("Authorization", "").startswith("Basic ") for h in api_hits)
    assert all("Authorization" not in h.headers for h in cdn_hits)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversize_media_gets_clear_message_and_text_still_handled(
    wa_bot: BotHarness, fake_twilio: FakeTwilio, chunked: bool
) -> None:
    big = b"\xff\xd8" + b"x" * 6_000_000  # the test config's cap is 5 MB
    url = fake_twilio.add_media(big, "video/mp4", chunked=chunked)
    await post(wa_bot, inbound_form(ACME, "talk to a person please", media=[(url, "video/mp4")]))
    calls = await fake_twilio.wait_created(2)
    bodies = [c.params["Body"] for c in calls]
    assert any("too large" in b and "5 MB" in b for b in bodies)
    assert any("colleague has been notified" in b for b in bodies)
    async with wa_bot.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.error == "too_large" and att.stored_path is None
    assert not [p for p in Path(wa_bot.settings.media.dir).rglob("*") if p.is_file()]


async def test_media_from_foreign_hosts_or_accounts_is_refused(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    real = fake_twilio.add_media(b"\xff\xd8 fine photo", "image/jpeg")
    path = urlsplit(real).path
    redirected = fake_twilio.add_media(b"\xff\xd8 other", "image/jpeg")
    fake_twilio.redirect_media_to(redirected, "http://169.254.169.254/latest/meta-data/")
    cases = [
        "https://evil.example" + path,  # foreign host, the right path
        f"{fake_twilio.cdn_url}/cdn/anything",  # the CDN host directly (credentials must never go there)
        real.replace(fake_twilio.account_sid, "AC" + "f" * 32),  # another account's media
        f"{fake_twilio.api_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Calls.json",
        "file:///etc/passwd",
        redirected,  # our host, but it redirects to a link-local address
    ]
    for url in cases:
        await post(wa_bot, inbound_form(ACME, "photo", media=[(url, "image/jpeg")]))
    await wa_bot.settled()
    async with wa_bot.db.read() as s:
        atts = list((await s.execute(select(AttachmentRow))).scalars())
    assert len(atts) == len(cases)
    assert all(a.error == "refused" and a.stored_path is None for a in atts)
    # only the redirecting URL was ever requested, and nothing followed it
    assert [h.params["me"] for h in fake_twilio.hits("media")] == [redirected.rsplit("/", 1)[1]]
    assert fake_twilio.hits("cdn") == []
    bodies = [c.params["Body"] for c in fake_twilio.created()]
    assert sum("could not download" in b for b in bodies) == len(cases)


# ---- outbound -----------------------------------------------------------------------------------------


async def test_outbound_photo_and_document_use_media_links_that_serve_the_file(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"sample photo" * 100
    pdf = b"%PDF-1.4\n" + b"packing list" * 100
    sha_photo, path_photo, _ = await wa_bot.runtime.store.save_bytes(photo)
    sha_pdf, path_pdf, _ = await wa_bot.runtime.store.save_bytes(pdf)
    out = OutboundMessage(
        channel=Channel.WHATSAPP,
        channel_user_id=ACME,
        text="Here are the photo and the packing list.",
        attachments=[
            Attachment(AttachmentKind.PHOTO, "image/jpeg", sha256=sha_photo, stored_path=str(path_photo)),
            Attachment(
                AttachmentKind.DOCUMENT,
                "application/pdf",
                filename="PL-PO-2026-0117.pdf",
                sha256=sha_pdf,
                stored_path=str(path_pdf),
            ),
        ],
        idempotency_key="test:documents:1",
    )
    async with wa_bot.db.write() as s:
        await outbox_repo.enqueue(s, out, kind="reply")
    wa_bot.runtime.dispatcher.wake()
    calls = await fake_twilio.wait_created(2)
    assert await wa_bot.settled() == ["sent"]
    assert [len(c.params.getall("MediaUrl")) for c in calls] == [1, 1]
    assert calls[0].params["Body"] == "Here are the photo and the packing list."
    assert "Body" not in calls[1].params
    served = []
    for call in calls:
        link = urlsplit(call.params["MediaUrl"])
        assert f"{link.scheme}://{link.netloc}" == wa_bot.settings.server.public_url
        resp = await wa_bot.client.get(link.path)  # what Twilio does with the link
        assert resp.status == 200
        served.append((await resp.read(), resp.content_type))
    assert served == [(photo, "image/jpeg"), (pdf, "application/pdf")]


async def test_outbound_file_over_twilios_5_mb_goes_as_a_link_and_long_text_is_split(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + b"v" * (5 * 1024 * 1024)
    sha = hashlib.sha256(video).hexdigest()
    path = wa_bot.runtime.store.path_for(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(video)
    long_text = "\n".join(f"Line {i}: the stitching was checked on carton {i}." for i in range(60))
    out = OutboundMessage(
        channel=Channel.WHATSAPP,
        channel_user_id=ACME,
        text=long_text,
        attachments=[
            Attachment(
                AttachmentKind.VIDEO, "video/mp4", filename="qc.mp4", sha256=sha, stored_path=str(path)
            )
        ],
        idempotency_key="test:big:1",
    )
    async with wa_bot.db.write() as s:
        await outbox_repo.enqueue(s, out)
    wa_bot.runtime.dispatcher.wake()
    await fake_twilio.wait_created(2)
    assert await wa_bot.settled() == ["sent"]
    calls = fake_twilio.created()
    assert all("MediaUrl" not in c.params for c in calls)
    bodies = [c.params["Body"] for c in calls]
    assert all(len(b) <= 1600 for b in bodies)
    joined = "\n".join(bodies)
    assert "Line 0:" in joined and "Line 59:" in joined
    link = urlsplit(joined.split("qc.mp4: ", 1)[1].split()[0])
    resp = await wa_bot.client.get(link.path)
    assert resp.status == 200 and len(await resp.read()) == len(video)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_retryable_failure_then_success_delivers_exactly_once(
    wa_bot: BotHarness, fake_twilio: FakeTwilio, status: int
) -> None:
    fake_twilio.fail_next(status, code=20429 if status == 429 else None)
    await post(wa_bot, inbound_form(ACME, "hello"))
    await fake_twilio.wait_created(1)
    assert await wa_bot.settled() == ["sent"]
    assert [c.ok for c in fake_twilio.calls if c.kind == "create"] == [False, True]
    async with wa_bot.db.read() as s:
        row = (await s.execute(select(OutboxRow))).scalar_one()
        out = await s.get(Message, row.message_id)
    assert row.attempts == 2 and row.provider_message_id == fake_twilio.created()[0].sid
    assert out is not None and out.delivery == "sent"


async def test_permanent_refusal_is_failed_with_reason_and_not_retried(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_next(400, code=21211, message="The 'To' number is not a valid phone number.")
    await post(wa_bot, inbound_form(ACME, "hello"))
    await fake_twilio.wait_for(lambda f: len(f.hits("create")) == 1)
    assert await wa_bot.settled() == ["failed"]
    async with wa_bot.db.read() as s:
        row = (await s.execute(select(OutboxRow))).scalar_one()
    assert "21211" in (row.last_error or "") and row.attempts == 1


async def test_window_closed_on_send_marks_failed_alerts_staff_and_sends_template(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, any_db_url, fake_twilio, template_content_sid=TEMPLATE)
    await add_staff(h)
    fake_twilio.fail_next(
        400, code=63016, message="Failed to send freeform message because you are outside the allowed window."
    )
    await post(h, inbound_form(ACME, "hello"))
    await fake_twilio.wait_created(2)
    assert await h.settled() == ["failed", "sent", "sent"]
    async with h.db.read() as s:
        rows = list((await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())
    assert "63016" in (rows[0].last_error or "") and "24-hour window" in (rows[0].last_error or "")
    [alert] = fake_twilio.sent_to(LI)
    assert "Not delivered" in alert.params["Body"] and ACME in alert.params["Body"]
    assert "How can we help" in alert.params["Body"]  # staff see what was not delivered
    assert fake_twilio.sent_to("whatsapp:+8613800000009") == []  # QC without the sales role is not told
    [template] = fake_twilio.sent_to(ACME)
    assert template.params["ContentSid"] == TEMPLATE
    assert '"1": "Anna Schmidt"' in template.params["ContentVariables"]
    assert "Body" not in template.params
    items = await conversation_messages(h)
    assert [m["delivery"] for m in items if m["direction"] == "out"] == ["sent", "failed"]


async def test_window_closed_without_template_still_tells_staff(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    await add_staff(wa_bot)
    fake_twilio.fail_next(400, code=63016, message="outside the allowed window")
    await post(wa_bot, inbound_form(ACME, "hello"))
    await fake_twilio.wait_created(1)
    assert await wa_bot.settled() == ["failed", "sent"]
    [alert] = fake_twilio.created()
    assert alert.params["To"] == LI and "No template is configured" in alert.params["Body"]


async def test_window_closed_alerts_the_assigned_staff_member(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    await add_staff(wa_bot)
    await post(wa_bot, inbound_form(ACME, "hello"))
    await fake_twilio.wait_created(1)
    await wa_bot.settled()
    from storage.models import Conversation

    async with wa_bot.db.write() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
        conv.assigned_staff, conv.state = "tom", "with_staff"
        conv_id = conv.id
        await outbox_repo.enqueue(
            s,
            OutboundMessage(
                Channel.WHATSAPP, ACME, text="Your replacement ships Monday.", idempotency_key="relay:1"
            ),
            conversation_id=conv_id,
        )
    fake_twilio.fail_next(400, code=63016, message="outside the allowed window")
    wa_bot.runtime.dispatcher.wake()
    await fake_twilio.wait_for(lambda f: len(f.sent_to("whatsapp:+8613800000009")) == 1)
    assert await wa_bot.settled() == ["sent", "failed", "sent"]
    assert "replacement ships Monday" in fake_twilio.sent_to("whatsapp:+8613800000009")[0].params["Body"]
    assert fake_twilio.sent_to(LI) == []


# ---- status callbacks ------------------------------------------------------------------------------------


async def test_status_callback_updates_delivery(wa_bot: BotHarness, fake_twilio: FakeTwilio) -> None:
    await post(wa_bot, inbound_form(ACME, "hello"))
    [call] = await fake_twilio.wait_created(1)
    await wa_bot.settled()
    path = "/webhooks/whatsapp/status"

    async def delivery() -> str:
        [out] = [m for m in await conversation_messages(wa_bot) if m["direction"] == "out"]
        return out["delivery"]

    assert await delivery() == "sent"
    resp = await post(wa_bot, status_form(call.sid or "", "delivered"), path=path)
    assert resp.status == 200
    assert await delivery() == "delivered"
    await post(wa_bot, status_form(call.sid or "", "sent"), path=path)  # late, out of order
    assert await delivery() == "delivered"
    await post(wa_bot, status_form(call.sid or "", "read"), path=path)
    assert await delivery() == "read"
    # forged or unsigned callbacks change nothing
    forged = status_form(call.sid or "", "failed", error_code=30008)
    assert (await post(wa_bot, forged, path=path, signature=None)).status == 403
    assert (await post(wa_bot, forged, path=path, signature=sign("http://x", forged))).status == 403
    assert await delivery() == "read"
    # unknown ids are acknowledged and ignored; malformed callbacks are 400
    assert (await post(wa_bot, status_form(new_sid("SM"), "delivered"), path=path)).status == 200
    assert (await post(wa_bot, status_form(call.sid or "", "exploded"), path=path)).status == 400


async def test_status_callback_racing_the_api_answer_is_not_lost(
    wa_bot: BotHarness, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.callbacks_to = str(wa_bot.server.make_url("/"))
    await post(wa_bot, inbound_form(ACME, "hello"))
    await fake_twilio.wait_created(1)
    await fake_twilio.wait_for(lambda f: len(f.callback_results) == 2)
    assert fake_twilio.callback_results == [200, 200]
    await wa_bot.settled()
    [out] = [m for m in await conversation_messages(wa_bot) if m["direction"] == "out"]
    assert out["delivery"] == "delivered"


async def test_failed_status_63016_marks_failed_and_tells_staff_once(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, any_db_url, fake_twilio, template_content_sid=TEMPLATE)
    await add_staff(h)
    await post(h, inbound_form(ACME, "hello"))
    [call] = await fake_twilio.wait_created(1)
    await h.settled()
    callback = status_form(call.sid or "", "undelivered", error_code=63016)
    for _ in range(2):  # Twilio may report twice (failed, undelivered): one alert, one template
        assert (await post(h, callback, path="/webhooks/whatsapp/status")).status == 200
    await fake_twilio.wait_created(3)
    assert await h.settled() == ["failed", "sent", "sent"]
    async with h.db.read() as s:
        first = (await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().first()
    assert first is not None and "63016" in (first.last_error or "")
    assert len(fake_twilio.sent_to(LI)) == 1
    assert [c.params.get("ContentSid") for c in fake_twilio.sent_to(ACME)] == [None, TEMPLATE]
    items = await conversation_messages(h)
    assert [m["delivery"] for m in items if m["direction"] == "out"][-1] == "failed"


# ---- simulate -------------------------------------------------------------------------------------------


async def test_simulate_whatsapp_in_sandbox_with_photo(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    from bot.tools.demo import seed
    from bot.tools.simulate import simulate

    settings = make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake_twilio))
    settings.server.sandbox = True
    h = await harness_factory(settings)
    await seed(h.db)
    settings.server.port = h.server.port
    photo = tmp_path / "strap.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 simulated strap photo")
    effects = await simulate(settings, "whatsapp", ACME, "talk to a person", photo, timeout=10)
    assert any("colleague has been notified" in e["text"] for e in effects)
    assert all(e["channel"] == "whatsapp" and e["to"] == ACME for e in effects)
    async with h.db.read() as s:
        att = (await s.execute(select(AttachmentRow))).scalar_one()
    assert att.sha256 == hashlib.sha256(photo.read_bytes()).hexdigest() and att.error is None
    assert fake_twilio.calls == []  # sandbox: nothing left the machine
