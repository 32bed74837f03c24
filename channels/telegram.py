"""Telegram: python-telegram-bot as parser and client only; routing stays ours.

Inbound updates arrive on our own aiohttp route (no PTB Application/Updater), are
checked against the secret-token header in constant time and read by
channels/telegram_inbound.py (which updates are a client's words, old shapes repaired).
Outbound goes through PTB's `Bot` against the configured API base, so a local Bot API
server or the tests' fake can stand in for api.telegram.org.

Identity. A sender is the chat we store, and staff are recognised by that chat id, so only
a private chat in which the sender is the chat (`chat.type == "private"` and
`from.id == chat.id`) is taken in, messages and button presses alike. In a group every
member writes under the group's chat id: were that id a staff member's, every member
would be obeyed as staff. Group updates are therefore ignored (200, nothing stored, no
answer; a button press there is told to use the private chat). The bot serves clients and
staff one to one; it may still post alerts into a group, but nobody acts on them there.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

# Opt in to PTB's future behaviour (RetryAfter.retry_after as a timedelta) instead of
# a deprecation warning on every flood-control answer; _seconds() handles both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import telegram
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    MediaTooLarge,
    OutboundMessage,
    SendError,
)
from bot.ports import (
    Capabilities,
    ReplyRoutes,
    RequestHead,
    StoredRef,
    WebhookRejected,
    WebRequest,
    WebResponse,
)
from channels.base import MediaStore
from channels.degrade import degrade
from channels.media_fetch import FetchRules, MediaFetcher
from channels.telegram_http import AiohttpRequest
from channels.telegram_inbound import parse_update
from channels.telegram_repair import read_update
from channels.telegram_triage import DEFERRED, FirstRead, first_read
from config.settings import TelegramSettings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Bots may download at most 20 MB through the Bot API (telegram.constants.FileSizeLimit).
BOT_DOWNLOAD_LIMIT = int(telegram.constants.FileSizeLimit.FILESIZE_DOWNLOAD)
PRIVATE_ONLY = "Buttons work only in your private chat with the bot."
# parse() notes a button pressed outside a private chat, so the answer can say why nothing happened.
REFUSED_CALLBACK = "telegram_refused_callback"
CAPABILITIES = Capabilities(buttons=True, edits=True, max_text=4096, media_per_message=1, quotes=True)


class TelegramAdapter:
    channel = Channel.TELEGRAM
    webhook_path = "/webhooks/telegram"
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: TelegramSettings,
        store: MediaStore,
        *,
        allow_loopback: bool = False,
        routes: ReplyRoutes | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.routes = routes
        self._http = AiohttpRequest()  # Bot.shutdown skips a Bot never initialised: closed in close()
        self.bot = Bot(
            settings.token,
            base_url=settings.api_base_url,
            base_file_url=settings.file_base_url,
            request=self._http,
        )
        # getFile's path is joined to file_base_url, so that host (and its port) is the only source.
        self.media = MediaFetcher(
            FetchRules.for_provider(
                [urlsplit(settings.file_base_url).hostname or ""],
                settings.file_base_url,
                allow_loopback=allow_loopback,
            )
        )

    async def start(self) -> None:
        await self.media.start()

    async def close(self) -> None:
        await self.media.close()
        await self.bot.shutdown()
        await self._http.shutdown()

    # ---- inbound -------------------------------------------------------------------------------

    def verify_headers(self, head: RequestHead) -> None:
        """The secret is a header: a forged request is refused before its body is read."""
        given = head.header(SECRET_HEADER)
        if not hmac.compare_digest(given.encode(), self.settings.webhook_secret.encode()):
            raise WebhookRejected(403, "bad or missing secret token")

    async def verify(self, request: WebRequest) -> None:
        self.verify_headers(request)

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise WebhookRejected(400, "not a Telegram Update (no integer update_id)")
        first = first_read(data)
        if first is not None:  # plain: PTB reads it in the worker (read_stored)
            if not first.taken:
                if first.callback_id is not None:
                    request.notes[REFUSED_CALLBACK] = first.callback_id
                return []
            return [_deferred(data, first)]
        update = read_update(data)  # an old or partial shape is repaired, never refused
        if update is None:
            return []
        message = parse_update(update)
        if message is None and update.callback_query is not None:
            request.notes[REFUSED_CALLBACK] = update.callback_query.id
        return [message] if message else []

    def read_stored(self, message: InboundMessage) -> InboundMessage | None:
        """PTB's reading of an update the webhook stored after its first read (telegram_triage)."""
        data = message.extra.get(DEFERRED)
        if not isinstance(data, dict):
            return message  # read in full by the webhook
        update = read_update(data)
        return parse_update(update) if update is not None else None

    async def respond(
        self, request: WebRequest, messages: list[InboundMessage], stored: Sequence[StoredRef]
    ) -> WebResponse:
        refused = request.notes.get(REFUSED_CALLBACK)
        if refused:
            return WebResponse.json(
                {"method": "answerCallbackQuery", "callback_query_id": refused, "text": PRIVATE_ONLY}
            )
        # A button press is acknowledged in the webhook answer itself (Bot API "reply to
        # webhook"), so the client's spinner stops without an extra API call.
        for m in messages:
            callback_id = m.extra.get("callback_query_id")
            if callback_id:
                return WebResponse.json({"method": "answerCallbackQuery", "callback_query_id": callback_id})
        return WebResponse()

    # ---- outbound ------------------------------------------------------------------------------

    async def send(self, out: OutboundMessage) -> str:
        shown = degrade(out, self.capabilities)
        if shown is None:
            return ""
        out = shown
        markup = None
        if out.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.value[:64])] for b in out.buttons]
            )
        if out.edit is not None:
            return await self._edit(out, out.edit.message_id, markup)
        reply_to = int(out.reply_to) if out.reply_to and out.reply_to.isdigit() else None
        files = [a for a in out.attachments if a.stored_path]
        via = await self._route(out)
        # A short text rides as the first file's caption; a long one goes as its own message.
        caption = out.text if files and out.text and len(out.text) <= 1024 else None
        try:
            sent: telegram.Message | None = None
            for index, att in enumerate(files):
                first_caption = caption if index == 0 else None
                with open(att.stored_path or "", "rb") as fh:
                    payload = InputFile(fh, filename=att.filename or None)
                    if att.kind == AttachmentKind.PHOTO:
                        sent = await self.bot.send_photo(
                            out.channel_user_id,
                            photo=payload,
                            caption=first_caption,
                            reply_markup=markup if first_caption else None,
                            business_connection_id=via,
                        )
                    else:
                        sent = await self.bot.send_document(
                            out.channel_user_id,
                            document=payload,
                            caption=first_caption,
                            reply_markup=markup if first_caption else None,
                            business_connection_id=via,
                        )
            if out.text and caption is None:
                sent = await self.bot.send_message(
                    out.channel_user_id,
                    out.text,
                    reply_markup=markup,
                    reply_to_message_id=reply_to,
                    business_connection_id=via,
                )
        except RetryAfter as exc:
            raise SendError(f"telegram flood control: {exc}", retry_after=_seconds(exc)) from exc
        except (BadRequest, Forbidden, InvalidToken) as exc:
            raise SendError(f"telegram refused: {exc}", permanent=True) from exc
        except (TimedOut, NetworkError) as exc:
            raise SendError(f"telegram unavailable: {exc}") from exc
        except TelegramError as exc:
            raise SendError(f"telegram error: {exc}") from exc
        if sent is None:
            raise SendError("nothing to send: no text and no stored file", permanent=True)
        return str(sent.message_id)

    async def _route(self, out: OutboundMessage) -> str | None:
        """A client who wrote to a business account is answered from it (Bot API business bots).
        A reply carries how its message came in (a connection, or None: the bot's own chat);
        only a send that answers no message looks the route up, a read per send otherwise."""
        if "business_connection_id" in out.extra:
            return str(out.extra["business_connection_id"] or "") or None
        return await self._business_connection(out)

    async def _business_connection(self, out: OutboundMessage) -> str | None:
        """A send that is no direct reply (staff's answer, a later notice) goes to a business
        client through the connection of their newest message, or they would never see it."""
        if self.routes is None:
            return None
        extra = await self.routes.last_inbound_extra(str(out.channel), out.channel_user_id)
        via = extra.get("business_connection_id")
        return via if isinstance(via, str) and via else None

    async def _edit(self, out: OutboundMessage, target: str, markup: InlineKeyboardMarkup | None) -> str:
        """Rewrite a message we sent (an alert showing who took it); its buttons go unless given again."""
        if not target.isdigit():
            raise SendError(f"telegram cannot edit message {target!r}: not a message id", permanent=True)
        message_id = int(target)
        try:
            await self.bot.edit_message_text(
                out.text, chat_id=out.channel_user_id, message_id=message_id, reply_markup=markup
            )
        except RetryAfter as exc:
            raise SendError(f"telegram flood control: {exc}", retry_after=_seconds(exc)) from exc
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return str(message_id)  # already shows this text: the edit is done
            raise SendError(f"telegram refused the edit: {exc}", permanent=True) from exc
        except (Forbidden, InvalidToken) as exc:
            raise SendError(f"telegram refused: {exc}", permanent=True) from exc
        except (TimedOut, NetworkError) as exc:
            raise SendError(f"telegram unavailable: {exc}") from exc
        except TelegramError as exc:
            raise SendError(f"telegram error: {exc}") from exc
        return str(message_id)

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        limit = min(self.store.max_bytes, BOT_DOWNLOAD_LIMIT)
        if attachment.size is not None and attachment.size > limit:
            raise MediaTooLarge(attachment.size, limit)
        tg_file = await self.bot.get_file(attachment.provider_ref)
        if tg_file.file_size is not None and tg_file.file_size > limit:
            raise MediaTooLarge(tg_file.file_size, limit)
        sha, path, size, _ctype = await self.media.fetch(tg_file.file_path or "", self.store)
        attachment.sha256 = sha
        attachment.stored_path = str(path)
        attachment.size = size
        return attachment


def _deferred(data: dict[str, Any], first: FirstRead) -> InboundMessage:
    """What the webhook stores of a plain update: who, the words, and the update to read later."""
    extra: dict[str, Any] = {DEFERRED: data}
    if first.callback_id is not None:
        extra["callback_query_id"] = first.callback_id  # answered in the webhook's reply (respond)
    return InboundMessage(
        channel=Channel.TELEGRAM,
        channel_user_id=str(first.chat_id),
        provider_message_id=str(data["update_id"]),
        text=first.text,
        is_button=first.callback_id is not None,
        extra=extra,
    )


def _seconds(exc: RetryAfter) -> float:
    value: Any = exc._retry_after  # the timedelta PTB keeps; the public property warns about int/timedelta
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
