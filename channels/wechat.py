"""WeChat Official Account: wechatpy checks and parses inbound XML; channels/wechat_api.py talks out.

Inbound. WeChat signs every request with sha1(sorted(token, timestamp, nonce)) in the
query — in safe mode too, where it adds `msg_signature` over the `<Encrypt>` envelope.
The plain signature is checked before a byte of the body is parsed; in safe mode the
envelope is then parsed (entities disabled), its `msg_signature` checked and only then
decrypted. Any DOCTYPE is refused outright (WeChat never sends one), and wechatpy's
`xmltodict` refuses entity declarations on its own, so neither XXE nor billion laughs is
ever expanded: both are a fast 400.

Answer. `success` (text/plain) in `reply_mode = "api"`: handling runs after the answer by
design (the message is committed first; media, handlers and API calls come later), so the
5 s deadline is never at risk. In `reply_mode = "passive"` the request may instead wait,
up to 4 s from its arrival, for the first reply to this message and answer with it as
passive reply XML (encrypted in safe mode); see channels/wechat_passive.py for how that
reply still goes through the outbox and what falls back to the API.

Outbound. `message/custom/send` for text and images (uploaded with `media/upload`,
≤ 2 MB); the 客服 API has no file type, so documents (and larger photos) go as a text
with our signed `/media` link. Buttons become numbered lines. 45015 (48-hour window
closed) → SendError(window_closed=True), so the row ends `failed` with the reason and
the outbox's failure hook tells staff.

Media. By `media/get` on the configured API host, streamed into the MediaStore with the
size cap. For video WeChat answers JSON `{"video_url": …}`: that URL is fetched only from
`media.allowed_hosts`. An image that comes with a `PicUrl` but no `MediaId` is fetched from
the `PicUrl`, only on WeChat's image hosts (or `media.allowed_hosts`), over https.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.messages import (
    Attachment,
    Channel,
    InboundMessage,
    MediaRefused,
    MediaTooLarge,
    OutboundMessage,
    SendError,
)
from bot.ports import (
    Capabilities,
    ExtraRoute,
    ReplayMemory,
    RequestHead,
    StoredRef,
    WebhookRejected,
    WebRequest,
    WebResponse,
)
from channels.base import LinkMaker, MediaStore
from channels.degrade import degrade
from channels.media_fetch import FetchRules, MediaFetcher
from channels.wechat_api import WeChatApi, WeChatApiError
from channels.wechat_inbound import PARSE_ERRORS, PIC_URL_REF, normalise, refuse_doctype
from channels.wechat_media import WECHAT_IMAGE_HOSTS, fetch_pic_url, uploadable_image
from channels.wechat_passive import PassiveReplies, settle
from channels.wechat_replay import ReplayGuard
from channels.wechat_text import TEXT_LIMIT_BYTES, render_text, split_text
from config.settings import WeChatSettings

log = logging.getLogger(__name__)

SUCCESS = "success"
# verify() hands the decrypted safe-mode XML to parse() in the request's notes.
DECRYPTED = "wechat_xml"
ARRIVED = "wechat_arrived"
PASSIVE_BUDGET = 4.0  # seconds from arrival; WeChat gives up after 5
# The 客服 API: no buttons, no edits, about 2 KB of text and one image per message.
CAPABILITIES = Capabilities(buttons=False, edits=False, max_text=TEXT_LIMIT_BYTES, media_per_message=1)


class WeChatAdapter:
    channel = Channel.WECHAT
    webhook_path = "/webhooks/wechat"
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: WeChatSettings,
        store: MediaStore,
        *,
        links: LinkMaker | None = None,
        media_hosts: Iterable[str] = (),
        passive_budget: float = PASSIVE_BUDGET,
        allow_loopback: bool = False,
        secret_sink: Callable[[str, str], None] | None = None,
        replays: ReplayMemory | None = None,
    ) -> None:
        """`replays` remembers accepted request triples; without it every push is refused (403)."""
        self.settings = settings
        self.store = store
        self.links = links
        # video_url names a host WeChat chose: only media.allowed_hosts, on the API base's ports.
        hosts = list(media_hosts)
        self.media = MediaFetcher(
            FetchRules.for_provider(hosts, settings.api_base_url, allow_loopback=allow_loopback)
        )
        self.images = MediaFetcher(
            FetchRules.for_provider(
                [*WECHAT_IMAGE_HOSTS, *hosts], settings.api_base_url, allow_loopback=allow_loopback
            )
        )
        # The access token is a secret known only at run time: the log scrubber learns each one.
        on_token = (lambda token: secret_sink("wechat.access_token", token)) if secret_sink else None
        self.api = WeChatApi(settings.api_base_url, settings.app_id, settings.app_secret, on_token=on_token)
        self.passive_budget = passive_budget
        self.passive = PassiveReplies()
        self._delivered_parts: dict[str, int] = {}
        self.crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key
            else None
        )
        self.replays = ReplayGuard(settings.max_clock_skew_seconds, replays)

    async def start(self) -> None:
        await self.api.start()
        await self.media.start()
        await self.images.start()

    async def close(self) -> None:
        await self.api.close()
        await self.media.close()
        await self.images.close()

    def extra_routes(self) -> list[ExtraRoute]:
        return [ExtraRoute("GET", self.webhook_path, self.handshake)]

    # ---- inbound -------------------------------------------------------------------------------

    async def handshake(self, request: WebRequest) -> WebResponse:
        """URL verification when the operator saves the server URL in the WeChat console."""
        echostr = request.query.get("echostr", "")
        if not echostr or not self._plain_signature_ok(request.query):
            log.warning("wechat handshake rejected: bad or missing signature")
            return WebResponse.json({"error": "bad signature"}, status=403)
        return WebResponse.text(echostr)

    def _plain_signature_ok(self, q: Mapping[str, str]) -> bool:
        """sha1(sorted(token, timestamp, nonce)) computed by wechatpy's signer (the algorithm of
        `wechatpy.utils.check_signature`), compared in constant time, which check_signature is not."""
        signature, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        if not (signature and timestamp and nonce):
            return False
        signer = WeChatSigner()
        signer.add_data(self.settings.token, timestamp, nonce)
        return hmac.compare_digest(signer.signature.encode(), signature.encode())

    def verify_headers(self, head: RequestHead) -> None:
        """The plain signature is in the query string: checked before the body is read."""
        head.notes.setdefault(ARRIVED, asyncio.get_running_loop().time())  # the passive budget starts here
        if not self._plain_signature_ok(head.query):
            raise WebhookRejected(403, "bad or missing signature")

    async def verify(self, request: WebRequest) -> None:
        """Signature, clock window, (safe mode) msg_signature and decryption, then the replay memory.

        The triple is remembered only once everything else passed, so a forged request can
        never use up the triple of a genuine one.
        """
        request.notes.setdefault(ARRIVED, asyncio.get_running_loop().time())
        if not self._plain_signature_ok(request.query):
            raise WebhookRejected(403, "bad or missing signature")
        q = request.query
        timestamp = self.replays.fresh_timestamp(q["timestamp"])
        self._decrypt(request)
        signed = q["signature"] if self.crypto is None else f"{q['signature']}:{q.get('msg_signature', '')}"
        await self.replays.accept(timestamp, q["nonce"], signed)

    def _decrypt(self, request: WebRequest) -> None:
        body = request.body
        encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
        if self.crypto is None:
            # Compatibility mode sends the plaintext with an `Encrypt` copy: without a key, read
            # the plaintext (as plain mode would); an envelope alone cannot be read.
            if encrypted and b"<MsgType" not in body:
                raise WebhookRejected(403, "encrypted message but no wechat.encoding_aes_key configured")
            return
        if not encrypted:  # with a key, a compatibility-mode push is decrypted: its Encrypt copy is used
            raise WebhookRejected(403, "safe mode is configured: unencrypted messages are refused")
        refuse_doctype(body)
        q = request.query
        try:
            plain = self.crypto.decrypt_message(body, q.get("msg_signature", ""), q["timestamp"], q["nonce"])
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise WebhookRejected(403, f"bad msg_signature or app id ({type(exc).__name__})") from None
        except PARSE_ERRORS as exc:
            raise WebhookRejected(400, f"malformed encrypted envelope: {type(exc).__name__}") from None
        except Exception as exc:  # bad base64/padding inside the cipher
            raise WebhookRejected(400, f"cannot decrypt message: {type(exc).__name__}") from None
        request.notes[DECRYPTED] = plain

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        xml = request.notes.get(DECRYPTED) or request.body
        raw = xml.encode() if isinstance(xml, str) else xml
        refuse_doctype(raw)
        try:
            msg = parse_message(raw)
            if msg is None:
                raise ValueError("empty body")
            message = normalise(msg)
        except PARSE_ERRORS as exc:
            raise WebhookRejected(400, f"not a WeChat message: {type(exc).__name__}: {exc}") from None
        return [message] if message else []

    async def respond(
        self, request: WebRequest, messages: list[InboundMessage], stored: Sequence[StoredRef]
    ) -> WebResponse:
        """`success`, or in passive mode the first reply to a new message if it comes in time."""
        if (
            self.settings.reply_mode != "passive"
            or len(messages) != 1
            or len(stored) != 1
            or not stored[0].is_new  # a retry: the first request had its chance
            or messages[0].extra.get("event") == "unsubscribe"
        ):
            return WebResponse.text(SUCCESS)
        loop = asyncio.get_running_loop()
        deadline = float(request.notes.get(ARRIVED, loop.time())) + self.passive_budget
        handover = await self.passive.wait(PassiveReplies.key_for(stored[0].message_id), deadline)
        if handover is None:
            return WebResponse.text(SUCCESS)
        out, written = handover
        try:
            xml = self._passive_xml(messages[0], out)
        except BaseException:
            settle(written, False)  # the outbox sends it through the API instead
            raise
        # Settled once bot.web has written the answer (or failed to: then the API sends it).
        return WebResponse(200, xml.encode(), "text/xml", on_written=lambda ok: settle(written, ok))

    def _passive_xml(self, inbound: InboundMessage, out: OutboundMessage) -> str:
        reply = TextReply(
            source=str(inbound.extra.get("to") or ""),
            target=inbound.channel_user_id,
            content=render_text(out.text, [b.label for b in out.buttons], []),
            time=int(time.time()),
        ).render()
        if self.crypto is None:
            return str(reply)
        return str(self.crypto.encrypt_message(reply, secrets.token_hex(8)))

    # ---- outbound ------------------------------------------------------------------------------

    async def send(self, out: OutboundMessage) -> str:
        shown = degrade(out, self.capabilities)
        if shown is None:
            return ""  # an edit with nothing to say where messages cannot be edited
        out = shown
        if self.settings.reply_mode == "passive" and await self.passive.offer(out, fits=_fits_passive(out)):
            return f"passive:{uuid.uuid4().hex[:16]}"
        openid = out.channel_user_id
        payloads: list[dict[str, Any]] = []
        link_lines: list[str] = []
        images: list[Attachment] = []
        for att in out.attachments:
            if not att.stored_path:
                continue
            if uploadable_image(att):
                images.append(att)
            else:
                link_lines.append(self._link_line(att))
        text = render_text(out.text, [b.label for b in out.buttons], link_lines)
        try:
            for chunk in split_text(text):
                payloads.append({"touser": openid, "msgtype": "text", "text": {"content": chunk}})
            for att in images:
                media_id = await self.api.upload_media(
                    "image", Path(att.stored_path or ""), att.filename or _default_name(att), att.mime
                )
                payloads.append({"touser": openid, "msgtype": "image", "image": {"media_id": media_id}})
            if not payloads:
                raise SendError("nothing to send: no text and no stored file", permanent=True)
            last: dict[str, Any] = {}
            # A retry after a partial failure skips the parts this process already delivered.
            done = self._delivered_parts.get(out.idempotency_key, 0)
            for index, payload in enumerate(payloads):
                if index < done:
                    continue
                last = await self.api.post_json("message/custom/send", payload)
                self._delivered_parts[out.idempotency_key] = index + 1
            self._delivered_parts.pop(out.idempotency_key, None)
        except WeChatApiError as exc:
            raise _send_error(exc) from exc
        except OSError as exc:
            raise SendError(f"cannot read file to upload: {exc}", permanent=True) from exc
        return str(last.get("msgid") or f"cs-{uuid.uuid4().hex[:16]}")

    def _link_line(self, att: Attachment) -> str:
        name = att.filename or _default_name(att)
        if self.links is None or not att.sha256:
            return f"[{name}]"
        return f"{name}: {self.links.url(att.sha256, filename=att.filename)}"

    # ---- media ---------------------------------------------------------------------------------

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        limit = self.store.max_bytes
        if attachment.provider_ref.startswith(PIC_URL_REF):
            return await fetch_pic_url(self.images, self.store, attachment)
        try:
            async with self.api.media_get(attachment.provider_ref) as (resp, data):
                if data is None:
                    sha, path, size = await self.store.save_stream(
                        resp.content.iter_chunked(65536), resp.content_length
                    )
                    ctype = resp.headers.get("Content-Type", attachment.mime).split(";")[0].strip()
                    if ctype and ctype != "application/octet-stream":
                        attachment.mime = ctype
                else:
                    video_url = data.get("video_url") or data.get("down_url")
                    if not isinstance(video_url, str) or not video_url:
                        raise MediaRefused(f"media/get answered JSON without a media URL: {sorted(data)}")
                    sha, path, size = await self._fetch_video(video_url)
        except WeChatApiError as exc:
            raise MediaRefused(f"media/get failed: {exc}") from exc
        if size > limit:  # pragma: no cover - the store refuses first
            raise MediaTooLarge(size, limit)
        attachment.sha256 = sha
        attachment.stored_path = str(path)
        attachment.size = size
        return attachment

    async def _fetch_video(self, url: str) -> tuple[str, Path, int]:
        sha, path, size, _ctype = await self.media.fetch(url, self.store)
        return sha, path, size


# ---- rendering -------------------------------------------------------------------------------------


def _fits_passive(out: OutboundMessage) -> bool:
    """One passive answer is one text message: no files, no second part."""
    if any(a.stored_path for a in out.attachments):
        return False
    return len(split_text(render_text(out.text, [b.label for b in out.buttons], []))) == 1


def _default_name(att: Attachment) -> str:
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "application/pdf": ".pdf"}
    return f"{att.kind}{ext.get(att.mime, '')}"


def _send_error(exc: WeChatApiError) -> SendError:
    if exc.window_closed:
        return SendError(
            f"wechat 客服 window closed (errcode {exc.errcode}: {exc.errmsg}); "
            "the client must write to us before we can message them",
            window_closed=True,
        )
    if exc.retryable:
        return SendError(f"wechat unavailable: {exc}")
    return SendError(f"wechat refused: {exc}", permanent=True)
