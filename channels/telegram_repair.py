"""Reading Update shapes python-telegram-bot refuses: older Bot API versions, partial objects.

PTB requires fields older versions did not send (`file_unique_id` before Bot API 4.5,
`is_bot`, a dice's `emoji`, a sticker's `type`, poll fields added since) and raises on
them, as on `"from": null`. Refusing such an update with 400 would make Telegram resend a
client's message for a day and lose it anyway. So a refused payload is repaired (nulls
dropped, missing ids derived, the fields PTB names as missing given neutral values) and
read again; failing that, only what the bot needs is kept (the chat, the sender, the text);
failing that too, the update is acknowledged and dropped with a warning.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Update

log = logging.getLogger(__name__)

MESSAGE_KEYS = (
    "message",
    "business_message",
    "edited_message",
    "edited_business_message",
    "channel_post",
    "edited_channel_post",
)
_ESSENTIAL = {
    "message_id",
    "date",
    "edit_date",
    "text",
    "caption",
    "media_group_id",
    "business_connection_id",
}
_PERSON = {"id", "is_bot", "first_name", "last_name", "username", "language_code"}
_CHAT = {"id", "type", "title", "username", "first_name", "last_name"}


def read_update(data: dict[str, Any]) -> Update | None:
    """PTB's Update, after repairing an old or partial shape; None when even that fails."""
    repaired: Any = data
    for attempt in range(REPAIR_ROUNDS):
        try:
            return Update.de_json(repaired, None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = exc
            repaired = _repaired(repaired) if attempt == 0 else _with_defaults(repaired, _missing(exc))
    try:
        return Update.de_json(_essentials(data), None)  # what the bot needs: who, and the words
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    log.warning("telegram update %s unreadable, acknowledged and dropped: %s", data.get("update_id"), problem)
    return None


REPAIR_ROUNDS = 6
_MISSING = re.compile(r"`(\w+)` is a required argument|'(\w+)'")


def _missing(exc: Exception) -> set[str]:
    """The argument names PTB says it lacks ("missing 2 required positional arguments: 'a' and 'b'")."""
    return {a or b for a, b in _MISSING.findall(str(exc))}


def _repaired(node: Any) -> Any:
    """Fill what older Bot API versions did not send and drop nulls PTB cannot take."""
    if isinstance(node, list):
        return [_repaired(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _repaired(v) for k, v in node.items() if v is not None}
    if "file_id" in out and "file_unique_id" not in out:
        out["file_unique_id"] = str(out["file_id"])
    if "first_name" in out and "id" in out and "type" not in out and "is_bot" not in out:
        out["is_bot"] = False  # a user of before is_bot
    if "value" in out and set(out) <= {"value", "emoji"}:
        out.setdefault("emoji", "🎲")  # a dice of before emoji: there was only the die
    return out


def _with_defaults(node: Any, names: set[str]) -> Any:
    """Give every object that lacks one of `names` a neutral value for it (False, 0, "", [])."""
    if isinstance(node, list):
        return [_with_defaults(v, names) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _with_defaults(v, names) for k, v in node.items()}
    for name in names:
        if name not in out and name in _NEUTRAL_FOR:
            kind = _NEUTRAL_FOR[name]
            if kind is None or kind & set(out):
                out[name] = _NEUTRAL[name]
    return out


# Fields newer python-telegram-bot versions require and older payloads lack: which objects
# (recognised by a field they do have; None: any object) get which neutral value.
_NEUTRAL: dict[str, Any] = {
    "is_animated": False,
    "is_video": False,
    "type": "regular",
    "members_only": False,
    "allows_revoting": False,
    "persistent_id": "",
    "width": 0,
    "height": 0,
    "duration": 0,
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": False,
    "allows_multiple_answers": False,
    "voter_count": 0,
    "options": [],
}
_NEUTRAL_FOR: dict[str, set[str] | None] = {
    "is_animated": {"emoji", "set_name"},
    "is_video": {"emoji", "set_name"},
    "type": {"emoji", "set_name", "question"},
    "members_only": {"question"},
    "allows_revoting": {"question"},
    "persistent_id": {"voter_count"},
    "width": {"file_id"},
    "height": {"file_id"},
    "duration": {"file_id"},
    "total_voter_count": {"question"},
    "is_closed": {"question"},
    "is_anonymous": {"question"},
    "allows_multiple_answers": {"question"},
    "voter_count": {"text"},
    "options": {"question"},
}


def _essentials(data: dict[str, Any]) -> dict[str, Any]:
    """The update cut to its message's chat, sender and words (files and the rest dropped)."""
    out: dict[str, Any] = {"update_id": data["update_id"]}
    for key in MESSAGE_KEYS:
        msg = data.get(key)
        if not isinstance(msg, dict):
            continue
        kept = {k: v for k, v in msg.items() if k in _ESSENTIAL}
        kept["chat"] = {k: v for k, v in (msg.get("chat") or {}).items() if k in _CHAT}
        if isinstance(msg.get("from"), dict):
            kept["from"] = {"is_bot": False, "first_name": ""} | {
                k: v for k, v in msg["from"].items() if k in _PERSON
            }
        out[key] = kept
        break
    return out
