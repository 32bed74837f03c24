"""WeChat events (`MsgType=event`) → normalised messages: which ones a person sent us, and their ids.

Events have no `MsgId`, so their dedup id is built from what tells two of them apart:
the follower, `CreateTime`, the event and its `EventKey`. Without the key, two menu clicks
in the same second with different keys would be one event and the second lost.

What becomes a message:
- `subscribe` (plain, via a QR code `qrscene_…`, via a product barcode) and `unsubscribe`
  are marked `extra["event"]`, for the follow handler; the QR scene is kept in `extra`.
- `SCAN`: a follower scanned one of our QR codes (its scene value in `EventKey`): marked
  `extra["event"] = "scan"`, answered like a follow, the scene kept.
- `CLICK`: a menu button press, text = `EventKey`.
- `scancode_push` / `scancode_waitmsg`: the client scanned a barcode or QR code with the
  scanner in our menu (a carton label, an invoice); `ScanCodeInfo/ScanResult` is what the
  code says, so it becomes the message text, as if typed, and an order number on a carton
  label is recognised like any other. For a barcode WeChat writes the symbology first
  (`CODE_128,PO-2026-0117`): the text is the code, the symbology is kept in `extra`.
Everything else (VIEW, LOCATION reports, send reports, card, invoice and WeChat Work events)
is answered `success` and not stored: nobody wrote to us.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from wechatpy.messages import BaseMessage

from bot.messages import InboundMessage

SUBSCRIBE_EVENTS = {"subscribe", "subscribe_scan", "subscribe_scan_product"}
SCANCODE_EVENTS = {"scancode_push", "scancode_waitmsg"}
KEY_IN_ID = 100  # longer keys (a VIEW URL, a long scene string) go into the id as a hash
QR_PREFIX = "qrscene_"
SYMBOLOGY = re.compile(r"^([A-Z][A-Z0-9_]{1,20}),(.+)$", re.S)  # EAN_13,6901234567892


def event_key(msg: BaseMessage, event: str) -> str:
    """The `EventKey` as WeChat sent it (wechatpy strips `qrscene_` off a QR-code follow)."""
    key = str(msg._data.get("EventKey") or "")
    if event == "subscribe_scan" and key and not key.startswith(QR_PREFIX):
        return QR_PREFIX + key
    return key


def event_id(openid: str, created: int, event: str, key: str) -> str:
    """`evt:<openid>:<CreateTime>:<event>[:<EventKey>]`, the key hashed when it is long."""
    pid = f"evt:{openid}:{created}:{event}"
    if not key:
        return pid
    if len(key) > KEY_IN_ID:
        key = "sha1-" + hashlib.sha1(key.encode()).hexdigest()
    return f"{pid}:{key}"


def normalise_event(msg: BaseMessage, base: dict[str, Any], extra: dict[str, Any]) -> InboundMessage | None:
    event = str(msg._data.get("Event") or getattr(msg, "event", "") or "").lower()
    key = event_key(msg, event)
    pid = event_id(str(base["channel_user_id"]), int(msg.time or 0), event, key)
    if event in SUBSCRIBE_EVENTS:
        scene = key.removeprefix(QR_PREFIX) if key.startswith(QR_PREFIX) else ""
        extra = {**extra, "event": "subscribe", **({"scene": scene} if scene else {})}
        return InboundMessage(**base, provider_message_id=pid, extra=extra)
    if event == "unsubscribe":
        return InboundMessage(**base, provider_message_id=pid, extra={**extra, "event": "unsubscribe"})
    if event == "scan":
        ticket = str(msg._data.get("Ticket") or "")
        extra = {**extra, "event": "scan", "scene": key, **({"ticket": ticket} if ticket else {})}
        return InboundMessage(**base, provider_message_id=pid, extra=extra)
    if event == "click":
        return InboundMessage(
            **base, provider_message_id=pid, text=key, is_button=True, extra={**extra, "event": "click"}
        )
    if event in SCANCODE_EVENTS:
        return _scanned_code(msg, base, extra, pid, event, key)
    return None


def _scanned_code(
    msg: BaseMessage, base: dict[str, Any], extra: dict[str, Any], pid: str, event: str, key: str
) -> InboundMessage | None:
    info = msg._data.get("ScanCodeInfo")
    info = info if isinstance(info, dict) else {}
    result = str(info.get("ScanResult") or "").strip()
    if not result:
        return None  # a scan that read nothing: nothing to answer
    scan_type = str(info.get("ScanType") or "")
    scanned = {"event": event, "menu_key": key, "scan_type": scan_type}
    barcode = SYMBOLOGY.match(result) if scan_type.lower() == "barcode" else None
    if barcode:
        scanned["symbology"], result = barcode.group(1), barcode.group(2).strip()
    # Not extra["event"]: the handlers treat the scanned text exactly like typed text.
    return InboundMessage(
        **base, provider_message_id=pid, text=result, extra={**extra, "scanned_code": scanned}
    )
