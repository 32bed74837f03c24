"""WhatsApp through Twilio: twilio's own RequestValidator and REST client, our routing.

Inbound forms are checked with `RequestValidator` over the configured public URL (a
TLS terminator in front would otherwise make us see `http://`) and the raw form with
duplicate keys kept, before a single field is read. Outbound goes through twilio's
`Client` with its aiohttp-based `AsyncTwilioHttpClient`, pointed at the configured API
base so tests (or a gateway) can stand in for api.twilio.com. Media is fetched with
the account's credentials only from the API host on this account's media path; the
307 to the CDN is followed by hand without them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    MediaRefused,
    OutboundMessage,
    SendError,
)
from channels.base import ExtraRoute, MediaStore, WebhookRejected, fetch_to_store
from config.settings import WhatsAppSettings

log = logging.getLogger(__name__)

TWILIO_API_HOST = "api.twilio.com"
# Where api.twilio.com redirects media downloads; operators add others in media.allowed_hosts.
TWILIO_CDN_HOSTS = frozenset({"media.twiliocdn.com"})
# Twilio accepts at most 5 MB of media per outbound message; larger files go as a link in the text.
OUTBOUND_MEDIA_LIMIT = 5 * 1024 * 1024
MAX_INBOUND_MEDIA = 10  # Twilio sends at most 10 MediaUrl{N}
MAX_BODY_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
WINDOW_CLOSED = 63016  # "outside the allowed window": free-form text more than 24 h after the client wrote
SEND_TIMEOUT = 30.0
EMPTY_TWIML = str(MessagingResponse())

# (channel, provider message id, normalised status, Twilio error code or None) -> found?
StatusCallback = Callable[[str, str, str, int | None], Awaitable[bool]]

# Twilio's MessageStatus values, reduced to the delivery states the API shows.
STATUS_MAP = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}


class LinkMaker(Protocol):
    """bot.media.MediaLinks: signed public links Twilio fetches our outbound files from."""

    def url(self, sha256: str, *, filename: str | None = None) -> str: ...


def kind_for(mime: str) -> AttachmentKind:
    if mime.startswith("image/"):
        return AttachmentKind.PHOTO
    if mime.startswith("video/"):
        return AttachmentKind.VIDEO
    if mime.startswith("audio/"):
        return AttachmentKind.VOICE
    return AttachmentKind.DOCUMENT


def decode_form(body: bytes) -> MultiDict[str]:
    """The raw form, duplicate keys kept in order (what RequestValidator must see)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "form body is not UTF-8") from None
    try:
        return MultiDict(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:
        raise WebhookRejected(400, f"malformed form body: {exc}") from None


def render_buttons(text: str, labels: Iterable[str]) -> str:
    """WhatsApp free-form messages have no buttons: number them, unless the text already does."""
    lines = [f"{i}. {label}" for i, label in enumerate(labels, 1)]
    missing = [line for line in lines if line not in text]
    if not missing:
        return text
    return "\n".join([text, *lines]) if text else "\n".join(lines)


def split_body(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Twilio refuses bodies over 1600 characters; cut at line breaks where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest or not parts:
        parts.append(rest)
    return parts


class WhatsAppAdapter:
    channel = Channel.WHATSAPP
    webhook_path = "/webhooks/whatsapp"
    status_path = "/webhooks/whatsapp/status"

    def __init__(
        self,
        settings: WhatsAppSettings,
        store: MediaStore,
        *,
        public_url: str,
        links: LinkMaker,
        media_hosts: Iterable[str] = (),
        on_status: StatusCallback | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.links = links
        self.on_status = on_status
        self.validator = RequestValidator(settings.auth_token)
        api = urlsplit(settings.api_base_url.rstrip("/"))
        self.api_scheme = api.scheme
        self.api_netloc = api.netloc.lower()
        self.api_host = (api.hostname or "").lower()
        # Credentials go to the first hop only, and only to the API host (checked in _media_url_ok);
        # redirect targets must be Twilio's CDN or hosts the operator listed by name.
        self.media_hosts = {self.api_host, TWILIO_API_HOST, *(h.lower() for h in media_hosts)}
        pair = f"{settings.account_sid}:{settings.auth_token}".encode()
        self._basic_auth = "Basic " + base64.b64encode(pair).decode()
        self.client: Client | None = None
        self._twilio_http: AsyncTwilioHttpClient | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # AsyncTwilioHttpClient opens an aiohttp session: it must be made inside the running loop.
        self._twilio_http = AsyncTwilioHttpClient()
        self.client = Client(
            self.settings.account_sid, self.settings.auth_token, http_client=self._twilio_http
        )
        # No constructor argument for the API host; the Domain's base_url is the documented hook.
        self.client.api.base_url = self.settings.api_base_url.rstrip("/")
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._twilio_http is not None:
            await self._twilio_http.close()
        if self._http is not None:
            await self._http.close()

    def extra_routes(self) -> list[ExtraRoute]:
        return [ExtraRoute("POST", self.status_path, self.handle_status, precheck=self.verify_headers)]

    # ---- inbound -------------------------------------------------------------------------------

    def _check_signature(self, request: web.Request, form: MultiDict[str]) -> None:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise WebhookRejected(403, "missing X-Twilio-Signature")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
        url = self.public_url + request.raw_path  # raw path with its query, as Twilio requested it
        if not self.validator.validate(url, form, signature, algorithm):
            raise WebhookRejected(403, "bad X-Twilio-Signature")
        account = form.get("AccountSid")
        if account is not None and account != self.settings.account_sid:
            raise WebhookRejected(403, "form for another Twilio account")

    def verify_headers(self, request: web.Request) -> None:
        """The signature covers the body, but a request without one is refused before reading it."""
        if not request.headers.get(SIGNATURE_HEADER):
            raise WebhookRejected(403, "missing X-Twilio-Signature")

    async def verify(self, request: web.Request, body: bytes) -> None:
        self.verify_headers(request)
        # Decoding the bytes into the raw pairs is not parsing a message: the signature covers them.
        self._check_signature(request, decode_form(body))

    def parse(self, request: web.Request, body: bytes) -> list[InboundMessage]:
        return [parse_form(decode_form(body))]

    def webhook_response(self, messages: list[InboundMessage]) -> web.Response:
        # Replies go out through the REST API from the outbox, so the TwiML answer is empty.
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def handle_status(self, request: web.Request) -> web.Response:
        """Status callback: MessageSid + MessageStatus (+ ErrorCode) → the outbound message's delivery."""
        try:
            body = await request.read()  # read by the body guard, after verify_headers
            form = decode_form(body)
            self._check_signature(request, form)
            sid = form.get("MessageSid") or form.get("SmsSid") or ""
            raw_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
            if not sid or raw_status not in STATUS_MAP:
                raise WebhookRejected(400, "status callback needs MessageSid and a known MessageStatus")
            code_raw = form.get("ErrorCode") or ""
            try:
                error_code = int(code_raw) if code_raw else None
            except ValueError:
                raise WebhookRejected(400, "ErrorCode must be an integer") from None
        except WebhookRejected as exc:
            log.warning("whatsapp status callback rejected (%s): %s", exc.status, exc.reason)
            return web.json_response({"error": exc.reason}, status=exc.status)
        found = False
        if self.on_status is not None:
            found = await self.on_status(str(self.channel), sid, STATUS_MAP[raw_status], error_code)
        if not found:
            log.info("status %s for unknown outbound message %s", raw_status, sid)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    # ---- outbound ------------------------------------------------------------------------------

    async def send(self, out: OutboundMessage) -> str:
        if self.client is None:
            raise SendError("whatsapp adapter not started")
        base: dict[str, Any] = {
            "to": out.channel_user_id,
            "from_": self.settings.from_number,
            "status_callback": self.public_url + self.status_path,
        }
        content_sid = out.extra.get("content_sid")
        if content_sid:
            variables = out.extra.get("content_variables") or {}
            calls = [
                {
                    **base,
                    "content_sid": content_sid,
                    "content_variables": variables if isinstance(variables, str) else json.dumps(variables),
                }
            ]
        else:
            calls = await self._free_form_calls(out, base)
        sids: list[str] = []
        for kwargs in calls:
            sids.append(await self._create(kwargs))
        return sids[0]

    async def _free_form_calls(self, out: OutboundMessage, base: dict[str, Any]) -> list[dict[str, Any]]:
        """One Twilio message per file (WhatsApp takes one media per message), the text on the first."""
        text = render_buttons(out.text, [b.label for b in out.buttons]) if out.buttons else out.text
        media: list[str] = []
        for att in out.attachments:
            url, size = await self._public_link(att)
            if url is None:
                continue
            if size is not None and size > OUTBOUND_MEDIA_LIMIT:
                name = att.filename or "file"
                text = f"{text}\n{name}: {url}" if text else f"{name}: {url}"
            else:
                media.append(url)
        bodies = split_body(text) if text else []
        calls: list[dict[str, Any]] = []
        for index, url in enumerate(media):
            call = {**base, "media_url": [url]}
            if index == 0 and bodies:
                call["body"] = bodies.pop(0)
            calls.append(call)
        calls += [{**base, "body": part} for part in bodies]
        if not calls:
            raise SendError("nothing to send: no text and no stored file", permanent=True)
        return calls

    async def _public_link(self, att: Attachment) -> tuple[str | None, int | None]:
        """A signed /media link to the file; files outside the store are copied in (links serve by sha)."""
        sha = att.sha256
        size = att.size
        if att.stored_path:
            path = Path(att.stored_path)
            if not path.is_file():
                raise SendError(f"attachment file missing: {att.stored_path}", permanent=True)
            size = path.stat().st_size
            if sha is None or not self.store.path_for(sha).is_file():
                sha, _p, size = await self.store.save_bytes(path.read_bytes())
        if sha is None:
            return None, None
        filename = att.filename
        if not filename:
            ext = mimetypes.guess_extension(att.mime or "") or ""
            filename = f"{att.kind}{ext}"
        return self.links.url(sha, filename=filename), size

    async def _create(self, kwargs: dict[str, Any]) -> str:
        assert self.client is not None
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                message = await self.client.messages.create_async(**kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc) from exc
        except TwilioException as exc:
            raise SendError(f"twilio error: {exc}") from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"twilio unreachable: {type(exc).__name__}: {exc}") from exc
        if not message.sid:
            raise SendError("twilio answered without a message sid")
        return str(message.sid)

    # ---- media ---------------------------------------------------------------------------------

    def _media_url_ok(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        official = parts.scheme == "https" and parts.netloc.lower() == TWILIO_API_HOST
        configured = parts.scheme == self.api_scheme and parts.netloc.lower() == self.api_netloc
        if not (official or configured):
            raise MediaRefused(f"refusing media from host {host!r}: not the Twilio API host")
        prefix = f"/2010-04-01/Accounts/{self.settings.account_sid}/Messages/"
        rest = parts.path[len(prefix) :] if parts.path.startswith(prefix) else ""
        segments = rest.split("/")
        if (
            len(segments) != 3
            or segments[1] != "Media"
            or not all(re.fullmatch(r"[A-Za-z0-9]{2,64}", s) for s in (segments[0], segments[2]))
        ):
            raise MediaRefused("refusing media outside this account's Messages/…/Media/… path")

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        url = attachment.provider_ref
        self._media_url_ok(url)
        assert self._http is not None, "adapter not started"
        sha, path, size, ctype = await fetch_to_store(
            self._http,
            url,
            self.store,
            allowed_hosts=self.media_hosts,
            first_hop_headers={"Authorization": self._basic_auth},
            redirect_hosts=set(TWILIO_CDN_HOSTS),
        )
        attachment.sha256 = sha
        attachment.stored_path = str(path)
        attachment.size = size
        if attachment.mime in ("", "application/octet-stream") and ctype:
            attachment.mime = ctype.split(";")[0].strip()
        return attachment


def classify(exc: TwilioRestException | TwilioServiceException) -> SendError:
    """429 and 5xx are worth retrying; other 4xx are not; 63016 means the 24-hour window closed."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
    reason = f"twilio {status} error {code}: {text}"
    if code == WINDOW_CLOSED:
        return SendError(
            f"{WINDOW_CLOSED}: outside WhatsApp's 24-hour window ({text})", permanent=True, window_closed=True
        )
    if status == 429 or status >= 500 or status == 0:
        return SendError(reason)
    return SendError(reason, permanent=True)


def parse_form(form: MultiDict[str]) -> InboundMessage:
    """One verified Twilio form → one normalised message; WebhookRejected(400) when it is not one."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not (0 < len(sid) <= 64 and sid.isascii() and sid.isalnum()):
        raise WebhookRejected(400, "MessageSid missing or malformed")
    sender = form.get("From", "")
    if not sender.startswith("whatsapp:") or len(sender) > 64:
        raise WebhookRejected(400, "From must be a whatsapp: address")
    try:
        num_media = int(form.get("NumMedia") or "0")
    except ValueError:
        raise WebhookRejected(400, "NumMedia must be an integer") from None
    if not 0 <= num_media <= MAX_INBOUND_MEDIA:
        raise WebhookRejected(400, f"NumMedia must be between 0 and {MAX_INBOUND_MEDIA}")
    attachments: list[Attachment] = []
    for i in range(num_media):
        url = form.get(f"MediaUrl{i}", "")
        if not url:
            raise WebhookRejected(400, f"MediaUrl{i} missing (NumMedia={num_media})")
        mime = (form.get(f"MediaContentType{i}") or "application/octet-stream").split(";")[0].strip()
        attachments.append(Attachment(kind_for(mime), mime, url))
    payload = form.get("ButtonPayload") or ""
    button_text = form.get("ButtonText") or ""
    is_button = bool(payload or button_text)
    text = (payload or button_text) if is_button else form.get("Body", "")
    extra: dict[str, Any] = {
        key: form[name]
        for key, name in (
            ("wa_id", "WaId"),
            ("to", "To"),
            ("message_type", "MessageType"),
            ("button_text", "ButtonText"),
            ("latitude", "Latitude"),
            ("longitude", "Longitude"),
        )
        if form.get(name)
    }
    if is_button and form.get("Body") and form.get("Body") != text:
        extra["body"] = form["Body"]
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_user_id=sender,
        provider_message_id=sid,
        text=text,
        sender_name=form.get("ProfileName") or None,
        attachments=attachments,
        reply_to=form.get("OriginalRepliedMessageSid") or None,
        is_button=is_button,
        extra=extra,
    )
