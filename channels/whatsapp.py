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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
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
    Channel,
    InboundMessage,
    MediaRefused,
    OutboundMessage,
    SendError,
)
from bot.ports import (
    Capabilities,
    ExtraRoute,
    OutboundIds,
    RequestHead,
    StoredRef,
    WebhookRejected,
    WebRequest,
    WebResponse,
)
from channels.base import LinkMaker, MediaStore
from channels.degrade import degrade, numbered
from channels.media_fetch import FetchRules, MediaFetcher
from channels.whatsapp_inbound import (
    STATUS_MAP,
    WINDOW_CLOSED,
    InboundFilter,
    StatusCallback,
    decode_form,
    parse_form,
)
from config.settings import WhatsAppSettings

log = logging.getLogger(__name__)

TWILIO_API_HOST = "api.twilio.com"
# Where api.twilio.com redirects media downloads; operators add others in media.allowed_hosts.
TWILIO_CDN_HOSTS = frozenset({"media.twiliocdn.com"})
# Twilio accepts at most 5 MB of media per outbound message; larger files go as a link in the text.
OUTBOUND_MEDIA_LIMIT = 5 * 1024 * 1024
MAX_BODY_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
SEND_TIMEOUT = 30.0
EMPTY_TWIML = str(MessagingResponse())
# verify() marks a verified form that is no client message (status report, our own number).
NOT_A_MESSAGE = "whatsapp_skip"
# Free-form WhatsApp has no buttons and no edits; one media file per Twilio message.
CAPABILITIES = Capabilities(buttons=False, edits=False, max_text=MAX_BODY_CHARS, media_per_message=1)


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
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: WhatsAppSettings,
        store: MediaStore,
        *,
        public_url: str,
        links: LinkMaker,
        media_hosts: Iterable[str] = (),
        on_status: StatusCallback | None = None,
        allow_loopback: bool = False,
        outbound_ids: OutboundIds | None = None,
    ) -> None:
        """`outbound_ids` recognises our own sends echoed back as inbound forms (they are dropped)."""
        self.settings = settings
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.links = links
        self.on_status = on_status
        self.validator = RequestValidator(settings.auth_token)
        self.inbound = InboundFilter(settings.from_number, on_status, outbound_ids)
        api = urlsplit(settings.api_base_url.rstrip("/"))
        self.api_scheme = api.scheme
        self.api_netloc = api.netloc.lower()
        self.api_host = (api.hostname or "").lower()
        # Credentials go to the first hop only, and only to the API host (checked in _media_url_ok);
        # redirect targets must be Twilio's CDN or hosts the operator listed by name, on 443 (or the
        # configured API base's own port), and resolve to public addresses.
        self.media = MediaFetcher(
            FetchRules.for_provider(
                {self.api_host, TWILIO_API_HOST, *TWILIO_CDN_HOSTS, *media_hosts},
                settings.api_base_url,
                allow_loopback=allow_loopback,
            )
        )
        pair = f"{settings.account_sid}:{settings.auth_token}".encode()
        self._basic_auth = "Basic " + base64.b64encode(pair).decode()
        self.client: Client | None = None
        self._twilio_http: AsyncTwilioHttpClient | None = None

    async def start(self) -> None:
        # AsyncTwilioHttpClient opens an aiohttp session: it must be made inside the running loop.
        self._twilio_http = AsyncTwilioHttpClient()
        self.client = Client(
            self.settings.account_sid, self.settings.auth_token, http_client=self._twilio_http
        )
        # No constructor argument for the API host; the Domain's base_url is the documented hook.
        self.client.api.base_url = self.settings.api_base_url.rstrip("/")
        await self.media.start()

    async def close(self) -> None:
        if self._twilio_http is not None:
            await self._twilio_http.close()
        await self.media.close()

    def extra_routes(self) -> list[ExtraRoute]:
        return [ExtraRoute("POST", self.status_path, self.handle_status, precheck=self.verify_headers)]

    # ---- inbound -------------------------------------------------------------------------------

    def _check_signature(self, request: RequestHead, form: MultiDict[str]) -> None:
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(403, "missing X-Twilio-Signature")
        algorithm = get_signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
        url = self.public_url + request.raw_path  # raw path with its query, as Twilio requested it
        if not self.validator.validate(url, form, signature, algorithm):
            raise WebhookRejected(403, "bad X-Twilio-Signature")
        account = form.get("AccountSid")
        if account is not None and account != self.settings.account_sid:
            raise WebhookRejected(403, "form for another Twilio account")

    def verify_headers(self, head: RequestHead) -> None:
        """The signature covers the body, but a request without one is refused before reading it."""
        if not head.header(SIGNATURE_HEADER):
            raise WebhookRejected(403, "missing X-Twilio-Signature")

    async def verify(self, request: WebRequest) -> None:
        self.verify_headers(request)
        # Decoding the bytes into the raw pairs is not parsing a message: the signature covers them.
        form = decode_form(request.body)
        self._check_signature(request, form)
        reason = await self.inbound.skip_reason(form)
        if reason is not None:
            log.info("whatsapp inbound %s: %s; answered, not stored", form.get("MessageSid", "?"), reason)
            request.notes[NOT_A_MESSAGE] = reason

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        if request.notes.get(NOT_A_MESSAGE):
            return []
        return [parse_form(decode_form(request.body))]

    async def respond(
        self, request: WebRequest, messages: list[InboundMessage], stored: Sequence[StoredRef]
    ) -> WebResponse:
        # Replies go out through the REST API from the outbox, so the TwiML answer is empty.
        return WebResponse.text(EMPTY_TWIML, "text/xml")

    async def handle_status(self, request: WebRequest) -> WebResponse:
        """Status callback: MessageSid + MessageStatus (+ ErrorCode) → the outbound message's delivery."""
        try:
            form = decode_form(request.body)  # read by the body guard, after verify_headers
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
            return WebResponse.json({"error": exc.reason}, status=exc.status)
        found = False
        if self.on_status is not None:
            closed = error_code == WINDOW_CLOSED  # the adapter knows Twilio's codes; delivery decides
            found = await self.on_status(str(self.channel), sid, STATUS_MAP[raw_status], error_code, closed)
        if not found:
            log.info("status %s for unknown outbound message %s", raw_status, sid)
        return WebResponse.text(EMPTY_TWIML, "text/xml")

    # ---- outbound ------------------------------------------------------------------------------

    async def send(self, out: OutboundMessage) -> str:
        if self.client is None:
            raise SendError("whatsapp adapter not started")
        shown = degrade(out, self.capabilities)
        if shown is None:
            return ""  # an edit with nothing to say where messages cannot be edited
        out = shown
        base: dict[str, Any] = {
            "to": out.channel_user_id,
            "from_": self.sender_for(out.channel_user_id),
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

    def sender_for(self, to: str) -> str:
        """A client who texted the number by SMS (From without `whatsapp:`) is answered by SMS from it."""
        own = self.settings.from_number
        return own if to.startswith("whatsapp:") else own.removeprefix("whatsapp:")

    async def _free_form_calls(self, out: OutboundMessage, base: dict[str, Any]) -> list[dict[str, Any]]:
        """One Twilio message per file (WhatsApp takes one media per message), the text on the first."""
        text = numbered(out.text, [b.label for b in out.buttons]) if out.buttons else out.text
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
        sha, path, size, ctype = await self.media.fetch(
            url, self.store, first_hop_headers={"Authorization": self._basic_auth}
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
