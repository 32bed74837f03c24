"""`aftersales simulate email`: a real MIME message, delivered the way mail is delivered.

With a mailbox configured (`email.imap_host`) the message is APPENDed to it over IMAP,
exactly what the provider's MTA does, and the bot's poller takes it from there. In the
sandbox demo there is no mailbox: the same bytes go to the bot's ingest route
(`POST /api/email/ingest`, admin token), which feeds the adapter's own parsing path.

The command plays the receiving server too: when `email.trusted_authserv_id` is set it adds
that server's Authentication-Results header with `dmarc=pass` for the sender's domain, which
is what a real MX writes for a genuine sender (and what makes staff mail and domain linking work).
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import aiohttp
import aioimaplib

from config.settings import Settings


class DeliveryError(Exception):
    pass


def build_client_mail(settings: Settings, sender: str, text: str, photo: Path | None) -> tuple[bytes, str]:
    if "@" not in sender:
        raise DeliveryError("--from must be an email address (e.g. buyer@acme.example)")
    msg = EmailMessage()
    authserv_id = settings.email.trusted_authserv_id.strip()
    if authserv_id:
        domain = sender.rpartition("@")[2]
        msg["Authentication-Results"] = f"{authserv_id}; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = settings.email.from_address or "support@factory.example"
    msg["Subject"] = text[:60] if len(text) <= 60 else text[:57] + "..."
    msg["Date"] = format_datetime(datetime.now(UTC))
    message_id = make_msgid(domain=sender.rpartition("@")[2])
    msg["Message-ID"] = message_id
    msg.set_content(text)
    if photo is not None:
        if not photo.is_file():
            raise DeliveryError(f"no such file: {photo}")
        mime = mimetypes.guess_type(photo.name)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(photo.read_bytes(), maintype=maintype, subtype=subtype, filename=photo.name)
    return msg.as_bytes(), message_id


async def append_to_mailbox(settings: Settings, raw: bytes) -> None:
    s = settings.email
    where = f"{s.imap_host}:{s.imap_port}"
    try:
        client: aioimaplib.IMAP4
        if s.imap_ssl:
            client = aioimaplib.IMAP4_SSL(host=s.imap_host, port=s.imap_port, timeout=15)
        else:
            client = aioimaplib.IMAP4(host=s.imap_host, port=s.imap_port, timeout=15)
        await client.wait_hello_from_server()
    except (OSError, TimeoutError) as exc:
        raise DeliveryError(f"cannot reach the IMAP server at {where}: {exc or type(exc).__name__}") from None
    try:
        resp = await client.login(s.imap_username, s.imap_password)
        if resp.result != "OK":
            raise DeliveryError(f"the IMAP server at {where} refused the login for {s.imap_username!r}")
        resp = await client.append(raw, mailbox=s.mailbox)
        if resp.result != "OK":
            raise DeliveryError(f"the IMAP server at {where} refused the APPEND to {s.mailbox!r}")
    finally:
        try:
            await client.logout()
        except Exception:  # the message is in (or the error above says why not); logout is courtesy
            pass


async def post_to_ingest(settings: Settings, base_url: str, raw: bytes) -> None:
    headers = {"Authorization": f"Bearer {settings.server.admin_token}", "Content-Type": "message/rfc822"}
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base_url}/api/email/ingest", data=raw, headers=headers) as resp,
        ):
            if resp.status != 200:
                raise DeliveryError(f"the bot answered HTTP {resp.status}: {(await resp.text())[:200]}")
    except aiohttp.ClientConnectorError:
        raise DeliveryError(f"no bot is listening on {base_url} (start it with `make run`)") from None


async def deliver(settings: Settings, base_url: str, sender: str, text: str, photo: Path | None) -> str:
    """Deliver one client mail; returns its Message-ID (the inbound message's provider id)."""
    if not settings.email.enabled:
        raise DeliveryError("email is not enabled in this config")
    raw, message_id = build_client_mail(settings, sender, text, photo)
    if settings.email.imap_host:
        await append_to_mailbox(settings, raw)
    else:
        await post_to_ingest(settings, base_url, raw)
    return message_id
