"""Inbound WeChat XML → normalised messages: what a push is, and the XML we refuse outright.

Kept apart from the adapter's signature, replay and reply logic (channels/wechat.py).
WeChat never sends a DOCTYPE, so any DOCTYPE is refused before parsing; wechatpy's
`xmltodict` refuses entity declarations on its own.
"""

from __future__ import annotations

from typing import Any
from xml.parsers.expat import ExpatError

from wechatpy.events import BaseEvent
from wechatpy.messages import (
    BaseMessage,
    ImageMessage,
    LinkMessage,
    LocationMessage,
    ShortVideoMessage,
    TextMessage,
    VideoMessage,
    VoiceMessage,
)

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from bot.ports import WebhookRejected
from channels.wechat_events import normalise_event

# Exceptions wechatpy/xmltodict raise on bodies that are not a WeChat message (see docs/providers/wechat.md).
PARSE_ERRORS = (ValueError, ExpatError, KeyError, TypeError, AttributeError)
# An image without a MediaId is fetched from its PicUrl (only from WeChat's image hosts: channels/wechat.py).
PIC_URL_REF = "picurl:"


def refuse_doctype(body: bytes) -> None:
    """WeChat never sends a DOCTYPE; only the prolog is looked at, since CDATA text may say anything."""
    root = body.find(b"<xml")
    prolog = body if root < 0 else body[:root]
    if b"<!DOCTYPE" in prolog.upper():
        raise WebhookRejected(400, "XML with a DOCTYPE (entity declarations) is refused")


def normalise(msg: BaseMessage) -> InboundMessage | None:
    """One wechatpy message → one normalised message; events we do not act on → None."""
    openid = msg.source
    if not openid:
        raise ValueError("no FromUserName")
    created = msg.create_time
    extra: dict[str, Any] = {"msg_type": msg.type, "to": msg.target}
    base = {"channel": Channel.WECHAT, "channel_user_id": openid, "received_at": created}
    raw_type = str(msg._data.get("MsgType", "")).lower()
    if isinstance(msg, BaseEvent) or raw_type == "event":
        return normalise_event(msg, base, extra)
    # `MsgID` is how some senders (and WeChat's own job reports) spell it.
    msg_id = str(msg.id or msg._data.get("MsgID") or "").strip()
    if not msg_id or msg_id == "0":
        if raw_type in {"text", "image", "voice", "video", "shortvideo", "location", "link"}:
            raise ValueError("message without MsgId")
        return None  # a type we do not know and cannot deduplicate: answered, not stored
    text = ""
    attachments: list[Attachment] = []
    if isinstance(msg, TextMessage):
        text = msg.content or ""
    elif isinstance(msg, ImageMessage):
        # By MediaId when there is one; an image with only a PicUrl is fetched from that URL
        # (from WeChat's image hosts only, see fetch_media) instead of being refused.
        pic_url = str(msg.image or "").strip()
        ref = msg.media_id or (PIC_URL_REF + pic_url if pic_url else "")
        attachments.append(Attachment(AttachmentKind.PHOTO, "image/jpeg", ref))
        extra["pic_url"] = pic_url
    elif isinstance(msg, VoiceMessage):
        text = msg.recognition or ""
        fmt = (msg.format or "amr").lower()
        attachments.append(Attachment(AttachmentKind.VOICE, f"audio/{fmt}", msg.media_id or ""))
    elif isinstance(msg, VideoMessage | ShortVideoMessage):
        attachments.append(Attachment(AttachmentKind.VIDEO, "video/mp4", msg.media_id or ""))
        extra["thumb_media_id"] = msg.thumb_media_id
    elif isinstance(msg, LocationMessage):
        text = f"location: {msg.location_x},{msg.location_y} {msg.label or ''}".strip()
    elif isinstance(msg, LinkMessage):
        text = "\n".join(p for p in (msg.title, msg.description, msg.url) if p)
    else:
        extra["unsupported"] = True
    for att in attachments:
        if not att.provider_ref:
            raise ValueError(
                f"{msg.type} message without MediaId" + (" or PicUrl" if msg.type == "image" else "")
            )
    return InboundMessage(**base, provider_message_id=msg_id, text=text, attachments=attachments, extra=extra)
