"""What a Twilio form carries, through the real signed route: locations, contacts, ads, buttons, SMS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.models import Message
from tests.channels.test_whatsapp import ACME, EMPTY_TWIML, conversation_messages, make_bot, post
from tests.channels.test_whatsapp_inbound import answered_once, inbound_rows
from tests.conftest import BotHarness
from tests.fakes.twilio import FROM_NUMBER, FakeTwilio, inbound_form, new_sid, status_form


def with_fields(pairs: list[tuple[str, str]], **fields: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k not in fields] + list(fields.items())


async def only_row(h: BotHarness) -> Message:
    await h.settled()
    [row] = await inbound_rows(h)
    return row


async def test_a_location_is_readable_text_and_structured_fields(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    form = with_fields(
        inbound_form(ACME, ""),
        MessageType="location",
        Latitude="22.5431",
        Longitude="114.0579",
        Label="Futian Port",
        Address="1 Port Rd, Shenzhen",
    )
    assert (await post(h, form)).status == 200
    row = await only_row(h)
    assert row.text == "📍 22.5431, 114.0579 — Futian Port, 1 Port Rd, Shenzhen"
    assert row.payload["extra"]["location"] == {
        "latitude": "22.5431",
        "longitude": "114.0579",
        "label": "Futian Port",
        "address": "1 Port Rd, Shenzhen",
    }
    assert fake_twilio.sent_to(ACME)  # answered like any message


VCARD = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Wang;Lei;;;\r\nFN:Wang Lei\r\nORG:Hailang Bags;QC\r\n"
    b"item1.TEL;type=CELL;waid=8613800000001:+86 138 0000 0001\r\nTEL;TYPE=WORK:+86 755 1234\r\n 5678\r\n"
    b"EMAIL:lei@hailang.example\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Chen;Mei;;;\r\nTEL:+86 139 0000 0002\r\nEND:VCARD\r\n"
)


async def test_a_shared_contact_is_read_out_as_names_and_numbers(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    sid = new_sid("MM")
    url = fake_twilio.add_media(VCARD, "text/vcard", message_sid=sid)
    assert (
        await post(h, inbound_form(ACME, "our QC contact", sid=sid, media=[(url, "text/vcard")]))
    ).status == 200
    row = await only_row(h)
    assert row.text == (
        "👤 Wang Lei (Hailang Bags, QC): +86 138 0000 0001, +86 755 12345678, lei@hailang.example\n"
        "👤 Mei Chen: +86 139 0000 0002\nour QC contact"
    )
    assert row.payload["extra"]["contacts"][1] == {
        "name": "Mei Chen",
        "phones": ["+86 139 0000 0002"],
        "emails": [],
    }
    [inbound] = [m for m in await conversation_messages(h) if m["direction"] == "in"]
    assert inbound["text"] == row.text  # what staff see in the console
    [att] = inbound["attachments"]
    assert att["mime"] == "text/vcard" and att["filename"] == "contact.vcf" and att["sha256"]


async def test_a_contact_card_that_cannot_be_fetched_still_says_what_it_was(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    url = f"{fake_twilio.api_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/MMgone/Media/MEgone"
    assert (await post(h, inbound_form(ACME, "", media=[(url, "text/x-vcard")]))).status == 200
    row = await only_row(h)
    assert row.text == "👤 contact card (vCard)"


async def test_click_to_whatsapp_ad_fields_are_kept(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    ad = {
        "ReferralBody": "Backpacks from the factory",
        "ReferralHeadline": "OEM bags — 20% off samples",
        "ReferralSourceUrl": "https://fb.me/abc123",
        "ReferralSourceId": "120210000000000001",
        "ReferralSourceType": "ad",
        "ReferralCtwaClid": "ARAbc123ClickId",
        "ReferralMediaUrl": "https://scontent.example/ad.jpg",
    }
    assert (await post(h, with_fields(inbound_form(ACME, "Hi, saw your ad"), **ad))).status == 200
    row = await only_row(h)
    assert row.text == "Hi, saw your ad"
    assert row.payload["extra"]["referral"] == {
        "body": "Backpacks from the factory",
        "headline": "OEM bags — 20% off samples",
        "source_url": "https://fb.me/abc123",
        "source_id": "120210000000000001",
        "source_type": "ad",
        "ctwa_clid": "ARAbc123ClickId",
        "media_url": "https://scontent.example/ad.jpg",
    }


async def test_a_typed_body_is_not_replaced_by_the_button_text(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    form = inbound_form(ACME, "PO-2026-0117 status please", button=("Confirm", "confirm_yes"))
    assert (await post(h, form)).status == 200
    row = await only_row(h)
    assert row.text == "PO-2026-0117 status please" and row.payload["is_button"] is False
    extra = row.payload["extra"]
    assert extra["button_text"] == "Confirm" and extra["button_payload"] == "confirm_yes"


async def test_a_status_callback_with_a_body_or_a_clients_from_is_no_message(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    sid = await answered_once(h, fake_twilio)
    with_body = [*status_form(sid, "delivered"), ("Body", "How can we help?")]
    from_client = with_fields(status_form(sid, "read"), From=ACME, To=FROM_NUMBER, Body="hello")
    for form in (with_body, from_client):
        resp = await post(h, form)
        assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    assert await h.settled() == ["sent"]
    assert len(await inbound_rows(h)) == 1 and len(fake_twilio.created()) == 1
    [out] = [m for m in await conversation_messages(h) if m["direction"] == "out"]
    assert out["delivery"] == "read"


async def test_a_form_with_no_body_file_or_location_is_not_stored(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    probe = [(k, v) for k, v in inbound_form(ACME, "x") if k not in ("Body", "SmsStatus")]
    resp = await post(h, probe)
    assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    assert await h.settled() == [] and await inbound_rows(h) == [] and fake_twilio.created() == []


async def test_an_sms_to_the_number_is_stored_and_answered_by_sms(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    sid = new_sid("SM")
    sms = [("SmsSid", sid), ("From", "+491701234999"), ("To", "+14155238886"), ("Body", "hello")]
    sms.append(("AccountSid", fake_twilio.account_sid))
    for _ in range(2):  # Twilio's retry is the same message
        assert (await post(h, sms)).status == 200
    row = await only_row(h)
    assert (row.channel_user_id, row.provider_message_id, row.text) == ("+491701234999", sid, "hello")
    [call] = fake_twilio.sent_to("+491701234999")
    assert call.params["From"] == "+14155238886"  # SMS from the same number, not whatsapp:
    async with h.db.read() as s:
        assert len(list((await s.execute(select(Message).where(Message.direction == "in"))).scalars())) == 1


async def test_nul_characters_never_reach_the_database(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, any_db_url, fake_twilio)
    form = with_fields(inbound_form(ACME, "remove\x00 null bytes\x00"), ProfileName="Anna\x00", Label="x\x00")
    assert (await post(h, form)).status == 200
    row = await only_row(h)
    assert row.text == "remove null bytes" and row.payload["sender_name"] == "Anna"


async def test_an_empty_body_with_nothing_else_is_stored_as_an_empty_message(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_twilio: FakeTwilio
) -> None:
    h = await make_bot(harness_factory, tmp_path, db_url, fake_twilio)
    form = with_fields(inbound_form(ACME, ""), MessageType="unsupported")
    assert (await post(h, form)).status == 200
    row = await only_row(h)
    assert row.text == "(empty message)"  # a row staff can read, not a blank bubble
    assert row.payload["extra"]["message_type"] == "unsupported"
    [inbound] = [m for m in await conversation_messages(h) if m["direction"] == "in"]
    assert inbound["text"] == "(empty message)"
    assert fake_twilio.sent_to(ACME)  # answered like any message
