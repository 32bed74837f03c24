"""What a Telegram message that is not typed text says, as a line staff can read and as fields.

A client sharing a location, a contact, a poll or a sticker sent no text, yet said something:
stored as an empty message it looks like nothing arrived. Each kind gets a short rendering
(`📍 22.54, 114.05 — Futian Port`) that becomes the message's text, and its values go into
`extra` for anything that wants them exactly (full-precision coordinates, the phone number).
The renderings are data (what the client sent), not texts of ours, so they carry values and
symbols rather than words to translate.
"""

from __future__ import annotations

from typing import Any

from telegram import Message


def render(msg: Message) -> tuple[str, dict[str, Any]]:
    """(the text staff and handlers read, the structured fields) of one message."""
    lines = [t for t in (msg.text, msg.caption) if t]
    fields: dict[str, Any] = {}
    for part in (
        _place(msg),
        _contact(msg),
        _sticker(msg),
        _dice(msg),
        _poll(msg),
        _story(msg),
        _shared(msg),
        _web_app(msg),
        _checklist(msg),
    ):
        if part is not None:
            line, key, value = part
            lines.append(line)
            fields[key] = value
    return "\n".join(lines), fields


Part = tuple[str, str, Any] | None


def _place(msg: Message) -> Part:
    venue, loc = msg.venue, msg.location
    if venue is not None:
        loc = venue.location
    if loc is None:
        return None
    value: dict[str, Any] = {"latitude": loc.latitude, "longitude": loc.longitude}
    line = f"📍 {loc.latitude:.2f}, {loc.longitude:.2f}"
    if venue is not None:
        value.update(title=venue.title, address=venue.address)
        line += " — " + ", ".join(p for p in (venue.title, venue.address) if p)
    return line, "location", value


def _contact(msg: Message) -> Part:
    c = msg.contact
    if c is None:
        return None
    name = " ".join(p for p in (c.first_name, c.last_name) if p)
    value: dict[str, Any] = {
        "phone_number": c.phone_number,
        "first_name": c.first_name,
        "last_name": c.last_name,
    }
    if c.user_id:
        value["user_id"] = c.user_id
    return f"👤 {name} {c.phone_number}".strip(), "contact", value


def _sticker(msg: Message) -> Part:
    s = msg.sticker
    if s is None:
        return None
    return (
        f"[sticker {s.emoji or ''}]".replace(" ]", "]"),
        "sticker",
        {"emoji": s.emoji, "set_name": s.set_name},
    )


def _dice(msg: Message) -> Part:
    d = msg.dice
    if d is None:
        return None
    return f"{d.emoji} {d.value}", "dice", {"emoji": d.emoji, "value": d.value}


def _poll(msg: Message) -> Part:
    p = msg.poll
    if p is None:
        return None
    options = [o.text for o in p.options]
    return f"📊 {p.question}: " + " / ".join(options), "poll", {"question": p.question, "options": options}


def _story(msg: Message) -> Part:
    s = msg.story
    if s is None:
        return None
    who = s.chat.username or s.chat.title or s.chat.first_name or str(s.chat.id)
    return f"[story {who} #{s.id}]", "story", {"chat_id": s.chat.id, "story_id": s.id}


def _shared(msg: Message) -> Part:
    old_style = msg.api_kwargs.get("user_shared")  # before Bot API 7.0: one user, an id only
    if msg.users_shared is not None or isinstance(old_style, dict):
        shared = msg.users_shared.users if msg.users_shared is not None else ()
        users = [
            {"user_id": u.user_id, "name": " ".join(p for p in (u.first_name, u.last_name) if p) or None}
            for u in shared
        ]
        if isinstance(old_style, dict) and old_style.get("user_id") not in {u["user_id"] for u in users}:
            users.append({"user_id": old_style.get("user_id"), "name": None})
        shown = ", ".join(f"{u['user_id']}" + (f" ({u['name']})" if u["name"] else "") for u in users)
        return f"👥 {shown}", "shared_users", users
    if msg.chat_shared is not None:
        c = msg.chat_shared
        line = f"💬 {c.chat_id}" + (f" ({c.title})" if c.title else "")
        return line, "shared_chat", {"chat_id": c.chat_id, "title": c.title}
    return None


def _web_app(msg: Message) -> Part:
    w = msg.web_app_data
    if w is None:
        return None
    return w.data, "web_app_data", {"data": w.data, "button_text": w.button_text}


def _checklist(msg: Message) -> Part:
    c = msg.checklist
    if c is None:
        return None
    tasks = [t.text for t in c.tasks]
    return f"☑ {c.title}: " + "; ".join(tasks), "checklist", {"title": c.title, "tasks": tasks}
