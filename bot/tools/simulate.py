"""`aftersales simulate`: play one client message into the running bot as its provider would.

The request is signed exactly as the provider signs it and goes through the public
webhook route; then we wait (with a deadline) until the bot has handled it and print
the replies and alerts it caused, read from the outbox.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from channels.base import MediaStore
from config.settings import Settings
from storage.db import Database
from storage.repos import messages as message_repo
from storage.repos import outbox as outbox_repo


class SimulateError(Exception):
    pass


def base_url(settings: Settings) -> str:
    host = settings.server.host if settings.server.host not in {"0.0.0.0", "::"} else "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


async def telegram_request(
    settings: Settings, sender: str, text: str, photo: Path | None
) -> tuple[str, dict[str, str], bytes, str]:
    if not settings.telegram.enabled:
        raise SimulateError("telegram is not enabled in this config")
    update_id = int(time.time() * 1000) % 2_000_000_000
    chat_id = int(sender) if sender.lstrip("-").isdigit() else None
    if chat_id is None:
        raise SimulateError("--from must be a Telegram chat id (digits)")
    message: dict[str, Any] = {
        "message_id": update_id % 1_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Simulated"},
    }
    if photo is not None:
        file_id = await _stage_photo(settings, photo)
        message["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": file_id[-16:],
                "width": 1280,
                "height": 960,
                "file_size": photo.stat().st_size,
            }
        ]
        message["caption"] = text
    else:
        message["text"] = text
    import json

    body = json.dumps({"update_id": update_id, "message": message}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": settings.telegram.webhook_secret,
    }
    return "/webhooks/telegram", headers, body, str(update_id)


async def _stage_photo(settings: Settings, photo: Path) -> str:
    """In sandbox mode the bot fetches `sandbox:<sha256>` references from its own media store."""
    if not settings.server.sandbox:
        raise SimulateError(
            "--photo needs sandbox mode (server.sandbox = true): there is no provider to host it"
        )
    if not photo.is_file():
        raise SimulateError(f"no such file: {photo}")
    sha, _path, _size = await MediaStore(settings.media.dir, settings.media.max_bytes).save_bytes(
        photo.read_bytes()
    )
    return f"sandbox:{sha}"


async def whatsapp_request(
    settings: Settings, sender: str, text: str, photo: Path | None
) -> tuple[str, dict[str, str], bytes, str]:
    """Twilio's inbound form, signed with twilio's own RequestValidator over the public URL."""
    from urllib.parse import urlencode

    from multidict import MultiDict
    from twilio.request_validator import RequestValidator

    wa = settings.whatsapp
    if not wa.enabled:
        raise SimulateError("whatsapp is not enabled in this config")
    if not sender.startswith("whatsapp:+") or not sender[10:].isdigit():
        raise SimulateError("--from must be a WhatsApp address like whatsapp:+491701234567")
    media: list[tuple[str, str]] = []
    if photo is not None:
        mime = mimetypes.guess_type(photo.name)[0] or "image/jpeg"
        media.append((await _stage_photo(settings, photo), mime))
    sid = ("MM" if media else "SM") + uuid.uuid4().hex
    pairs = [
        ("SmsMessageSid", sid),
        ("NumMedia", str(len(media))),
        ("ProfileName", "Simulated"),
        ("MessageType", "image" if media else "text"),
        ("SmsSid", sid),
        ("WaId", sender.removeprefix("whatsapp:+")),
        ("SmsStatus", "received"),
        ("Body", text),
        ("To", wa.from_number),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", wa.account_sid),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    for i, (ref, mime) in enumerate(media):
        pairs += [(f"MediaContentType{i}", mime), (f"MediaUrl{i}", ref)]
    path = "/webhooks/whatsapp"
    url = settings.server.public_url.rstrip("/") + path
    signature = RequestValidator(wa.auth_token).compute_signature(url, MultiDict(pairs))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return path, headers, urlencode(pairs).encode(), sid


async def wechat_request(
    settings: Settings, sender: str, text: str, photo: Path | None
) -> tuple[str, dict[str, str], bytes, str]:
    """A text message signed like WeChat (AES safe mode when `encoding_aes_key` is set).

    WeChat has no captions: with --photo, the image message is posted first (as its own
    signed request) and the text follows, as a client's phone would send them.
    """
    if not settings.wechat.enabled:
        raise SimulateError("wechat is not enabled in this config")
    from bot.tools.simulate_wechat import signed_wechat_post, wechat_message_xml

    msg_id = time.time_ns() // 1000 % 9_000_000_000_000_000
    if photo is not None:
        media_id = await _stage_photo(settings, photo)
        path, headers, body = signed_wechat_post(
            settings.wechat, wechat_message_xml(sender, "image", msg_id, MediaId=media_id, PicUrl="")
        )
        await _post(settings, path, headers, body)
        msg_id += 1
    path, headers, body = signed_wechat_post(
        settings.wechat, wechat_message_xml(sender, "text", msg_id, Content=text)
    )
    return path, headers, body, str(msg_id)


async def _post(settings: Settings, path: str, headers: dict[str, str], body: bytes) -> None:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(base_url(settings) + path, data=body, headers=headers) as resp,
        ):
            if resp.status != 200:
                raise SimulateError(f"the bot answered HTTP {resp.status}: {(await resp.text())[:200]}")
    except aiohttp.ClientConnectorError:
        raise SimulateError(
            f"no bot is listening on {base_url(settings)} (start it with `make run`)"
        ) from None


BUILDERS = {"telegram": telegram_request, "whatsapp": whatsapp_request, "wechat": wechat_request}


async def simulate(
    settings: Settings, channel: str, sender: str, text: str, photo: Path | None, timeout: float = 20.0
) -> list[dict[str, Any]]:
    if channel == "email":  # not a webhook: the message goes into the mailbox (bot/simulate_email.py)
        from bot.tools.simulate_email import DeliveryError, deliver

        try:
            message_id = await deliver(settings, base_url(settings), sender, text, photo)
        except DeliveryError as exc:
            raise SimulateError(str(exc)) from None
        db = Database(settings.database.url)
        try:
            return await _wait_for_effects(db, channel, message_id, timeout)
        finally:
            await db.dispose()
    builder = BUILDERS.get(channel)
    if builder is None:
        raise SimulateError(
            f"cannot simulate channel {channel!r} (choose from {', '.join(sorted(BUILDERS))})"
        )
    path, headers, body, provider_id = await builder(settings, sender, text, photo)
    await _post(settings, path, headers, body)
    db = Database(settings.database.url)
    try:
        return await _wait_for_effects(db, channel, provider_id, timeout)
    finally:
        await db.dispose()


async def _wait_for_effects(
    db: Database, channel: str, provider_id: str, timeout: float
) -> list[dict[str, Any]]:
    """Until the message is handled and each reply/alert it caused is delivered or failed.

    Past the deadline a handled message still prints, with whatever state its replies
    are in (a provider that keeps failing shows `pending`); an unhandled one is an error.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        effects: list[dict[str, Any]] | None = None
        async with db.read() as session:
            row = await message_repo.get_by_provider_id(session, channel, "in", provider_id)
            if row is not None and row.handled_at is not None:
                effects = [outbox_repo.outbox_json(e) for e in await outbox_repo.caused_by(session, row.id)]
        late = asyncio.get_running_loop().time() > deadline
        if effects is not None and (late or all(e["state"] in {"sent", "failed"} for e in effects)):
            return effects
        if late:
            raise SimulateError("the bot did not handle the message in time")
        await asyncio.sleep(0.1)


def render(effects: list[dict[str, Any]]) -> str:
    if not effects:
        return "(no replies)"
    lines = []
    for e in effects:
        arrow = "←" if e["kind"] == "reply" else "!"
        lines.append(f"{arrow} {e['kind']} to {e['channel']}:{e['to']} [{e['state']}]")
        lines += [f"  {line}" for line in (e["text"] or "").splitlines()]
        if e["buttons"]:
            lines.append("  [" + " | ".join(b["label"] for b in e["buttons"]) + "]")
        for a in e["attachments"]:
            lines.append(f"  📎 {a.get('filename') or a.get('kind')}")
    return "\n".join(lines)
