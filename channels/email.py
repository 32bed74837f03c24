"""Email: an IMAP poller (aioimaplib) for what clients write, SMTP for our replies (channels/email_send.py).

There is no webhook: the mailbox is the provider's queue. The poller waits with IDLE
where the server offers it (else polls every `email.poll_seconds`), checks each new
message's RFC822.SIZE before fetching it, hands it to the same group-commit writer the
webhooks use, and only then sets \\Seen and advances the mailbox's last UID, so a crash
at any point leaves the message unseen and it is fetched again (Message-ID dedup makes
the second time harmless). Attachments arrive inside the message, so they are stored in
the media store while polling; `fetch_media` only reports those that were too large.

Authenticity: `From` is trivially forged. Only the Authentication-Results header of the
server named by `email.trusted_authserv_id` is believed (channels/email_auth.py); its verdict
goes into `extra["auth"]` and `extra["sender_authenticated"]`, which decide whether a staff
address is obeyed and whether a client's domain links the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import aioimaplib

from bot.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    MediaRefused,
    MediaTooLarge,
    OutboundMessage,
)
from bot.ports import Capabilities, ExtraRoute, MailboxState, Submit, WebRequest, WebResponse
from bot.tasks import cancel_and_wait
from channels.base import MediaStore
from channels.degrade import degrade
from channels.email_mime import ParsedMail, parse_mail, unparseable
from channels.email_send import SmtpSender
from channels.email_text import scrub, strip_reply_prefixes
from config.settings import EmailSettings

log = logging.getLogger(__name__)

# Mail shows no buttons and cannot be edited; a reply quotes its thread; files ride along.
CAPABILITIES = Capabilities(buttons=False, edits=False, max_text=None, media_per_message=None, quotes=True)

# What we read of a message too large to fetch whole: its headers and the start of its text.
PARTIAL_BYTES = 256 * 1024
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes


class ImapError(Exception):
    pass


def _text(line: Any) -> str:
    return bytes(line).decode("utf-8", "replace") if isinstance(line, bytes | bytearray) else str(line)


def parse_fetch(lines: Sequence[Any]) -> list[tuple[dict[str, str], bytes | None]]:
    """aioimaplib's FETCH lines → [(attributes such as UID/RFC822.SIZE/FLAGS, literal body or None)]."""
    items: list[tuple[dict[str, str], bytes | None]] = []
    i = 0
    while i < len(lines):
        head = _text(lines[i])
        if re.match(r"^\d+ FETCH ", head):
            attrs = {k.upper(): v for k, v in re.findall(r"(UID|RFC822\.SIZE) (\d+)", head)}
            flags = re.search(r"FLAGS \(([^)]*)\)", head)
            if flags:
                attrs["FLAGS"] = flags.group(1)
            literal: bytes | None = None
            if re.search(r"\{\d+\}$", head) and i + 1 < len(lines):
                literal = bytes(lines[i + 1])
                i += 1
                # attributes may also follow the literal ("… UID 7)")
                if i + 1 < len(lines):
                    tail = _text(lines[i + 1])
                    for k, v in re.findall(r"(UID|RFC822\.SIZE) (\d+)", tail):
                        attrs.setdefault(k.upper(), v)
            items.append((attrs, literal))
        i += 1
    return items


def provider_id_for(message_id: str) -> str:
    """Message-IDs beyond the column's 255 characters are stored by their hash (still unique)."""
    if len(message_id) <= 255:
        return message_id
    return "<sha256-" + hashlib.sha256(message_id.encode()).hexdigest() + ">"


class EmailAdapter:
    channel = Channel.EMAIL  # no webhook: mail is pulled from the mailbox (a PollingIngress)
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: EmailSettings,
        store: MediaStore,
        mailbox: MailboxState | None = None,
        *,
        submit: Submit | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        """`mailbox` keeps the last UID polled and finds the thread a reply belongs in."""
        self.settings = settings
        self.store = store
        self.mailbox = mailbox
        self.outbound = SmtpSender(settings, mailbox)
        self.submit = submit
        # A whole message may carry a few attachments up to the per-file cap, base64-inflated.
        self.max_message_bytes = max_message_bytes or 4 * store.max_bytes + 1_000_000
        self.account = f"{settings.imap_username}@{settings.imap_host}:{settings.imap_port}"
        self._task: asyncio.Task[None] | None = None
        self._syncing = asyncio.Lock()
        self._stopping = False
        self._wake = asyncio.Event()
        # Observable state (tests and /healthz-style probes): what the poller is doing.
        self.idle_supported: bool | None = None
        self.idling = asyncio.Event()
        self.submit_failures = 0
        self.connected_once = asyncio.Event()
        self.connected = False
        self.last_error: str | None = None

    def bind_inbound(self, submit: Submit) -> None:
        """The composition root hands over the writer's `submit` (built after the adapters)."""
        self.submit = submit

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def state(self) -> MailboxState:
        if self.mailbox is None:
            raise RuntimeError("email adapter has no mailbox state")
        return self.mailbox

    async def start(self) -> None:
        if not self.settings.imap_host:
            log.warning("email: no imap_host configured; inbound mail is not polled")
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="email-poller")

    async def close(self) -> None:
        """Let a message being stored finish (bounded), then stop; an unfinished one stays unseen."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._syncing.acquire(), 5)
            self._syncing.release()
        await cancel_and_wait(self._task)
        self._task = None

    async def health(self) -> dict[str, Any]:
        """For /healthz: is the mailbox being watched, and if not, why."""
        if not self.settings.imap_host:
            return {"mailbox": "none (ingest route only)"}
        return {
            "connected": self.connected,
            "idle": self.idle_supported,
            "last_error": self.last_error,
            "store_failures": self.submit_failures,
        }

    def poll_now(self) -> None:
        """Wake a polling (non-IDLE) loop early."""
        self._wake.set()

    def extra_routes(self) -> list[ExtraRoute]:
        # Without a mailbox (the sandbox demo) nothing delivers mail, so raw RFC 822 bytes may be
        # handed in here instead; /api/ routes require the admin token (bot/api.py bearer_auth).
        if self.settings.imap_host:
            return []
        return [ExtraRoute("POST", "/api/email/ingest", self._ingest)]

    async def _ingest(self, request: WebRequest) -> WebResponse:
        raw = request.body  # capped by the body guard (413 beyond it)
        if not raw.strip():
            return WebResponse.json({"error": "empty message"}, status=400)
        digest = hashlib.sha256(raw).hexdigest()[:32]
        message = await self.to_inbound(raw, fallback_id=f"<ingest-{digest}@aftersales.invalid>")
        if self.submit is None:
            return WebResponse.json({"error": "inbound writer not running"}, status=503)
        stored = await self.submit([message])
        return WebResponse.json(
            {"message_id": message.provider_message_id, "new": bool(stored and stored[0].is_new)}
        )

    # ---- the poller ----------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            try:
                await self._session()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("email poller: %s; reconnecting in %.0fs", self.last_error, backoff)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
                backoff = min(backoff * 2, 60.0)

    async def connect(self) -> aioimaplib.IMAP4:
        s = self.settings
        client: aioimaplib.IMAP4
        if s.imap_ssl:
            client = aioimaplib.IMAP4_SSL(host=s.imap_host, port=s.imap_port, timeout=30)
        else:
            client = aioimaplib.IMAP4(host=s.imap_host, port=s.imap_port, timeout=30)
        await client.wait_hello_from_server()
        resp = await client.login(s.imap_username, s.imap_password)
        if resp.result != "OK":
            raise ImapError(f"IMAP login refused: {_text(resp.lines[-1]) if resp.lines else resp.result}")
        return client

    async def _session(self) -> None:
        client = await self.connect()
        try:
            resp = await client.select(self.settings.mailbox)
            if resp.result != "OK":
                raise ImapError(f"cannot select mailbox {self.settings.mailbox!r}")
            found = re.search(r"UIDVALIDITY (\d+)", " ".join(_text(x) for x in resp.lines))
            uidvalidity = int(found.group(1)) if found else 0
            self.idle_supported = client.has_capability("IDLE")
            self.connected, self.last_error = True, None
            self.connected_once.set()
            while not self._stopping:
                async with self._syncing:
                    # Again until a pass finds and hears of nothing new: mail announced inside those
                    # commands' responses is not announced a second time by IDLE.
                    while await self.sync(client, uidvalidity) and not self._stopping:
                        pass
                if self.idle_supported:
                    await self._idle(client)
                else:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.logout(), 5)

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Wait in IDLE until the server reports a change (or the renewal timer), then leave IDLE."""
        timeout = float(min(self.settings.poll_seconds, IDLE_RENEW_SECONDS))
        idle = await client.idle_start(timeout=timeout)
        self.idling.set()
        try:
            while client.has_pending_idle():
                push = await client.wait_server_push(timeout + 30)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(
                    re.search(rb"\b(EXISTS|RECENT|BYE)\b", bytes(x)) for x in push if isinstance(x, bytes)
                ):
                    break
        finally:
            self.idling.clear()
            client.idle_done()
            await asyncio.wait_for(idle, 10)

    async def sync(self, client: aioimaplib.IMAP4, uidvalidity: int) -> int:
        """Store what arrived since the last pass; returns how many were taken, or 1 when none was but
        the search's response announced new mail (Dovecot may search just before an APPEND lands and
        announce it in the same response, never again)."""
        mailbox = self.settings.mailbox
        last = await self.state.last_uid(self.account, mailbox, uidvalidity)
        criteria = ("UNSEEN",) if last is None else ("UID", f"{last + 1}:*")
        resp = await client.uid_search(*criteria, charset=None)
        if resp.result != "OK":
            raise ImapError(f"UID SEARCH failed: {resp.lines}")
        uids = sorted(
            int(u)
            for line in resp.lines
            if _text(line).startswith("SEARCH") or re.fullmatch(r"[\d ]+", _text(line).strip() or "x")
            for u in re.findall(r"\d+", _text(line))
        )
        uids = [u for u in uids if last is None or u > last]  # "n:*" always matches the newest message
        announced = any(re.search(r"^\d+ EXISTS\b", _text(line)) for line in resp.lines)
        if not uids:
            return int(announced)
        taken = 0
        for uid in uids:
            if self._stopping:
                break
            await self._take(client, uid)
            taken += 1
            await self.state.advance_uid(self.account, mailbox, uidvalidity, uid)
        return taken

    async def _take(self, client: aioimaplib.IMAP4, uid: int) -> int:
        resp = await client.uid("fetch", str(uid), "(UID RFC822.SIZE FLAGS)")
        items = [a for a, _ in parse_fetch(resp.lines) if a.get("UID") == str(uid)]
        if resp.result != "OK" or not items:
            return 0  # expunged meanwhile
        size = int(items[0].get("RFC822.SIZE", "0"))
        oversize = size > self.max_message_bytes
        part = f"BODY.PEEK[]<0.{PARTIAL_BYTES}>" if oversize else "BODY.PEEK[]"
        resp = await client.uid("fetch", str(uid), f"(UID {part})")
        bodies = [raw for a, raw in parse_fetch(resp.lines) if raw is not None]
        if resp.result != "OK" or not bodies:
            raise ImapError(f"could not fetch UID {uid}")
        message = await self.to_inbound(
            bodies[0], fallback_id=f"<uid-{uid}.{self.account}>", oversize=size if oversize else None
        )
        if self.submit is None:
            raise ImapError("email adapter has no inbound writer bound")
        try:
            stored = await self.submit([message])
        except Exception:
            self.submit_failures += 1
            raise
        # Committed: only now may the message leave the unseen set.
        await client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Seen)")
        return sum(1 for s in stored if getattr(s, "is_new", True))

    async def to_inbound(
        self, raw: bytes, *, fallback_id: str, oversize: int | None = None
    ) -> InboundMessage:
        """One raw message → the normalised message, its attachments stored (or marked too large)."""
        try:
            parsed = parse_mail(raw, fallback_id, self.settings.trusted_authserv_id)
        except Exception:  # a message we cannot parse must not block the mailbox behind it
            log.exception("email: unparseable message %s stored as raw text", fallback_id)
            parsed = unparseable(raw, fallback_id)
        own = self.settings.from_address.strip().lower()
        if own and parsed.from_address == own and not parsed.no_reply:
            parsed.no_reply = "own-address"  # our own mail back in the mailbox: never answer ourselves
        attachments = await self._attachments(parsed, oversize)
        text = parsed.text or strip_reply_prefixes(parsed.subject)
        if parsed.tag:
            text = text.replace(f"[{parsed.tag}]", "").strip() or text
        return InboundMessage(
            channel=Channel.EMAIL,
            channel_user_id=scrub(parsed.from_address[:254]),  # RFC 5321's limit; the column holds 255
            provider_message_id=scrub(provider_id_for(parsed.message_id)),
            text=scrub(text.strip()),
            sender_name=scrub((parsed.from_name or "")[:200]) or None,
            attachments=attachments,
            reply_to=parsed.in_reply_to,
            extra=scrub({**parsed.extra(), **({"oversize_bytes": oversize} if oversize else {})}),
        )

    async def _attachments(self, parsed: ParsedMail, oversize: int | None) -> list[Attachment]:
        out: list[Attachment] = []
        for index, part in enumerate(parsed.parts):
            ref = f"email:{parsed.message_id}#{index}"
            if oversize is not None or len(part.data) > self.store.max_bytes:
                # Nothing of a too-large file is kept; the engine tells the client the limit.
                size = len(part.data) if oversize is None else None
                name = scrub(part.filename) if part.filename else None
                out.append(Attachment(part.kind, part.mime, scrub(ref), name, size, error="too_large"))
                continue
            sha, path, size = await self.store.save_bytes(part.data)
            name = scrub(part.filename) if part.filename else None
            out.append(Attachment(part.kind, part.mime, scrub(ref), name, size, sha, str(path)))
        if oversize is not None and not out:
            out.append(
                Attachment(
                    AttachmentKind.DOCUMENT,
                    "message/rfc822",
                    f"email:{parsed.message_id}",
                    size=oversize,
                    error="too_large",
                )
            )
        return out

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        """Email attachments are stored while polling; the only ones left here were too large."""
        if attachment.error == "too_large":
            raise MediaTooLarge(attachment.size, self.store.max_bytes)
        raise MediaRefused("email attachments are stored when the message is fetched")

    # ---- outbound ------------------------------------------------------------------------------

    def message_id_for(self, out: OutboundMessage) -> str:
        return self.outbound.message_id_for(out)

    async def send(self, out: OutboundMessage) -> str:
        shown = degrade(out, self.capabilities)
        if shown is None:
            return ""  # an edit with nothing to say: mail cannot be rewritten
        return await self.outbound.send(shown)
