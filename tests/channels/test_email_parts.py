"""Reading a mail's MIME tree (channels/email_parts.py) on the real route: Dovecot in, the poller, the store.

Every mail here is APPENDed to a real Dovecot mailbox and taken by the product's IMAP poller;
what is checked is what the repositories hold afterwards and what the client was sent.
"""

from __future__ import annotations

import base64
import email
from email import policy
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from storage.repos import messages as message_repo
from tests.channels.test_email import ACME, SUPPORT, adapter_of, bot, make_bot
from tests.conftest import BotHarness, wait_until
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp

FIXTURES = (bot, make_bot, dovecot_fixture)  # the email tests' bot, reused here

JPEG = b"\xff\xd8\xff\xe0" + b"strap" * 300
PDF = b"%PDF-1.4 packing list"


def raw_mail(
    content_type: str, body: str, *, sender: str = f"Anna <{ACME}>", subject: str = "Order"
) -> tuple[bytes, str]:
    mid = make_msgid(domain="acme.example")
    head = f"From: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n" if sender else (
        f"To: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n")  # fmt: skip
    return (head + f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n" + body).encode(), mid


async def stored(h: BotHarness, mid: str) -> tuple[Any, list[Any]]:
    """The inbound row for this Message-ID once the poller has taken and the engine handled it."""

    async def there() -> bool:
        async with h.db.read() as s:
            return await message_repo.get_by_provider_id(s, "email", "in", mid) is not None

    await wait_until(there, 15)
    await h.settled()
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "email", "in", mid)
        assert row is not None, f"nothing stored for {mid}"
        full = await message_repo.get_message(s, row.id)
        assert full is not None
        return full, list(full.attachments)


async def test_a_wrong_boundary_still_gives_the_text_and_files_never_the_container(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    pdf = base64.b64encode(PDF).decode()
    body = (
        "This is a multi-part message in MIME format.\r\n\r\n--real-boundary\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nPO-2026-0117: the strap is torn.\r\n"
        "--real-boundary\r\nContent-Type: application/pdf; name=PL.pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--real-boundary--\r\n"
    )
    raw, mid = raw_mail('multipart/mixed; boundary="declared-but-never-used"', body)
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    row, files = await stored(bot, mid)
    assert row.text == "PO-2026-0117: the strap is torn."
    assert [(f.mime, f.filename) for f in files] == [("application/pdf", "PL.pdf")]
    assert Path(files[0].stored_path).read_bytes() == PDF


async def test_a_multipart_without_any_boundary_is_read_as_its_text(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, mid = raw_mail("multipart/alternative", "Where is PO-2026-0117?\r\n")
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    row, files = await stored(bot, mid)
    assert row.text == "Where is PO-2026-0117?" and files == []


async def test_a_forwarded_mail_is_kept_as_eml_and_staff_see_its_sender_subject_and_text(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    inner = (
        "From: Carrier <noreply@carrier.example>\r\nSubject: Customs hold HKG-7781\r\n"
        "Message-ID: <inner-1@carrier.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Your container MSKU 123456 is held by customs.\r\n"
    )
    body = (
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the mail below.\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        f"{inner}\r\n--b1--\r\n"
    )
    raw, mid = raw_mail('multipart/mixed; boundary="b1"', body, subject="Fwd: customs")
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    row, files = await stored(bot, mid)
    assert row.text.startswith("Please see the mail below.")
    assert (
        "[Forwarded mail] From: Carrier <noreply@carrier.example> | Subject: Customs hold HKG-7781"
        in row.text
    )
    assert "MSKU 123456 is held by customs" in row.text
    [eml] = files
    assert eml.mime == "message/rfc822" and eml.filename == "Customs hold HKG-7781.eml"
    again = email.message_from_bytes(Path(eml.stored_path).read_bytes(), policy=policy.default)
    assert again["Subject"] == "Customs hold HKG-7781" and again["Message-ID"] == "<inner-1@carrier.example>"
    assert row.payload["extra"]["forwarded"] == [
        {"from": "Carrier <noreply@carrier.example>", "subject": "Customs hold HKG-7781"}
    ]


async def test_inline_text_parts_around_a_photo_are_joined_in_order(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    """Apple Mail's text–image–text: the words after the photo are the client's too."""
    photo = base64.b64encode(JPEG).decode()
    body = (
        "--a\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe strap of PO-2026-0117:\r\n"
        "--a\r\nContent-Type: image/jpeg; name=IMG_1.jpg\r\n"
        "Content-Disposition: inline; filename=IMG_1.jpg\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{photo}\r\n"
        "--a\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nIt tore after two days.\r\n--a--\r\n"
    )
    raw, mid = raw_mail('multipart/mixed; boundary="a"', body)
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    row, files = await stored(bot, mid)
    assert row.text == "The strap of PO-2026-0117:\n\nIt tore after two days."
    assert [(f.kind, f.filename) for f in files] == [("photo", "IMG_1.jpg")]


async def test_attachment_names_unquoted_encoded_words_and_spaces_come_out_whole(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    pdf = base64.b64encode(PDF).decode()
    encoded = "=?UTF-8?B?" + base64.b64encode("包装清单.pdf".encode()).decode() + "?="
    body = (
        "--m\r\nContent-Type: text/plain\r\n\r\nDocuments attached.\r\n"
        f"--m\r\nContent-Type: application/pdf; name={encoded}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{pdf}\r\n--m\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename=Packing list PO-2026-0117.pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--m--\r\n"
    )
    raw, mid = raw_mail('multipart/mixed; boundary="m"', body)
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    _, files = await stored(bot, mid)
    assert [f.filename for f in files] == ["包装清单.pdf", "Packing list PO-2026-0117.pdf"]


async def test_a_mail_without_a_usable_from_is_stored_flagged_and_answered_to_nobody(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    for sender in ("", "undisclosed-recipients:;", '"not an address"'):
        raw, mid = raw_mail("text/plain; charset=utf-8", "My bag is broken, PO-2026-0117\r\n", sender=sender)
        await append(dovecot, raw)
        row, _ = await stored(bot, mid)
        assert row.text == "My bag is broken, PO-2026-0117"
        assert row.payload["extra"]["needs_staff"].startswith("no usable From address")
        assert row.payload["extra"]["no_reply"] is True
    person, _ = raw_mail("text/plain", "hello\r\n", sender=f"Anna <{ACME}>")
    await append(dovecot, person)
    await smtp.wait_to(ACME)
    await bot.settled()
    assert len(smtp.received) == 1  # only the mail with a sender was answered


async def test_the_sender_is_the_parsed_address_never_a_piece_of_the_display_name(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, mid = raw_mail("text/plain", "hello\r\n", sender='"Buyer, Anna" <anna.buyer@acme.example>')
    await append(dovecot, raw)
    [got] = await smtp.wait_to("anna.buyer@acme.example")
    assert got.message["In-Reply-To"] == mid
    row, _ = await stored(bot, mid)
    assert row.channel_user_id == "anna.buyer@acme.example"
    assert row.payload["sender_name"] == "Buyer, Anna"


async def test_utf8_cyrillic_with_one_bad_byte_stays_cyrillic(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    """One stray byte once sent the whole body to GB18030, which reads Cyrillic UTF-8 as Chinese."""
    text = "Здравствуйте! Ремень сумки порвался, заказ PO-2026-0117."
    body = text.encode().replace(b"PO-", b"\xd1PO-", 1)  # a stray byte GB18030 happily pairs with "P"
    raw, mid = raw_mail("text/plain; charset=UTF-8", "")
    raw = raw.replace(b"Content-Type:", b"Content-Transfer-Encoding: 8bit\r\nContent-Type:") + body
    await append(dovecot, raw)
    await smtp.wait_to(ACME)
    row, _ = await stored(bot, mid)
    assert row.text.startswith("Здравствуйте! Ремень сумки порвался, заказ")
    assert "PO-2026-0117" in row.text


async def test_raw_utf8_headers_are_decoded_and_never_block_the_mailbox(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    """RFC 6532 mail (UTF-8 in From) once could not be stored, and every mail behind it waited."""
    raw = (
        "From: Jöhn Doe <jdöe@mächine.example>\r\nTo: support@factory.example\r\nSubject: hi\r\n"
        "Message-ID: <utf8-1@mächine.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo\r\n"
    ).encode()
    await append(dovecot, raw)
    after, after_id = raw_mail("text/plain", "hello\r\n")
    await append(dovecot, after)
    await smtp.wait_to(ACME)
    row, _ = await stored(bot, "<utf8-1@mächine.example>")
    assert row.channel_user_id == "jdöe@mächine.example" and row.payload["sender_name"] == "Jöhn Doe"
    await stored(bot, after_id)
    assert adapter_of(bot).submit_failures == 0


async def test_staff_see_the_flag_on_a_mail_without_a_sender_in_the_console_and_api(
    bot: BotHarness, dovecot: Dovecot
) -> None:
    from tests.bot.web.console.test_views import add_staff, login

    raw, mid = raw_mail("text/plain; charset=utf-8", "Container held at customs!\r\n", sender="")
    await append(dovecot, raw)
    row, _ = await stored(bot, mid)
    await add_staff(bot)
    await login(bot)
    html = await (await bot.client.get(f"/console/conversations/{row.conversation_id}")).text()
    assert "No usable sender address: nobody was answered" in html
    assert "Container held at customs!" in html
    api = await bot.api("GET", f"/api/conversations/{row.conversation_id}/messages")
    [item] = (await api.json())["items"]
    assert item["needs_staff"].startswith("no usable From address") and item["text"] == row.text


def test_a_repaired_header_section_never_authenticates_a_sender() -> None:
    """A stray line joined to our MX's Authentication-Results must not add a verdict to it."""
    from channels.email_mime import parse_mail

    mx = "mx.factory.example"
    forged = (
        f"Authentication-Results: {mx}; spf=pass smtp.mailfrom=factory.example\r\n"
        "; dmarc=pass header.from=factory.example\r\n"  # not a header: the sender's first line
        "From: Li <li@factory.example>\r\nMessage-ID: <f1@factory.example>\r\nSubject: ack\r\n\r\n/ack 1\r\n"
    ).encode()
    parsed = parse_mail(forged, "", mx)
    assert parsed.from_address == "li@factory.example" and parsed.text == "/ack 1"  # readable…
    assert parsed.extra()["sender_authenticated"] is False  # …but never believed
    genuine = forged.replace(b"smtp.mailfrom=factory.example\r\n;", b"smtp.mailfrom=factory.example;", 1)
    assert parse_mail(genuine, "", mx).extra()["sender_authenticated"] is True  # the positive control
