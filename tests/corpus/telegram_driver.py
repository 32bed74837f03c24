"""Telegram's corpus: every Update in tests/corpus/telegram/ posted twice through the signed webhook.

What each input should leave behind is read here from the raw payload, by rules written for
this judge (which update kinds carry a client's words, what a location or contact must show),
never by calling the product's parser: a private chat's message is one stored row for that
chat, with its text, a rendering of what is not text, and every file fetched; an edit is
stored as an edit and not answered; a channel post is stored and never answered; a group's
message, a service message (joins, pins, payments, giveaways) and every other update kind
leave nothing and get no answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.models import Message
from storage.repos import messages as message_repo
from storage.repos import outbox as outbox_repo
from tests.corpus.judge import CorpusResult
from tests.fakes.telegram import FakeTelegram

HERE = Path(__file__).parent / "telegram"

# Accepted misses, each with its reason (they still count against the ratio).
KNOWN: dict[str, str] = {}

MESSAGE_KINDS = {
    "message": "client",
    "business_message": "client",
    "edited_message": "edit",
    "edited_business_message": "edit",
    "channel_post": "channel",
    "edited_channel_post": "channel",
}
MEDIA = ("photo", "document", "video", "voice", "audio", "video_note", "animation")
CONTENT = {
    "text", "caption", *MEDIA, "sticker", "location", "venue", "contact", "dice", "poll", "story",
    "users_shared", "user_shared", "chat_shared", "web_app_data", "checklist",
}  # fmt: skip


@dataclass
class Expected:
    stored: bool
    sender: str = ""
    texts: list[str] = field(default_factory=list)  # each must appear in the stored text
    needs_text: bool = False  # something to read even without a typed text (a rendering)
    files: list[int | None] = field(default_factory=list)  # declared sizes
    answered: bool | None = False  # None: not judged (a button press is answered by its handler)
    edit: bool = False
    business: str | None = None  # the business connection a reply must go through


def _texts_of(msg: dict[str, Any]) -> tuple[list[str], bool]:
    """What a person reading this message expects to see in its text."""
    out = [s for s in (msg.get("text"), msg.get("caption")) if isinstance(s, str) and s.strip()]
    needs = False
    if isinstance(msg.get("venue"), dict):
        out += [msg["venue"].get("title") or "", msg["venue"].get("address") or ""]
    elif isinstance(msg.get("location"), dict):
        loc = msg["location"]
        out += [f"{loc['latitude']:.2f}", f"{loc['longitude']:.2f}"]
    if isinstance(msg.get("contact"), dict):
        out += [msg["contact"].get("phone_number") or "", msg["contact"].get("first_name") or ""]
    if isinstance(msg.get("sticker"), dict):
        out.append(msg["sticker"].get("emoji") or "")
        needs = True
    if isinstance(msg.get("dice"), dict):
        out += [msg["dice"].get("emoji") or "", str(msg["dice"].get("value", ""))]
    if isinstance(msg.get("poll"), dict):
        out.append(msg["poll"].get("question") or "")
        out += [o.get("text") or "" for o in msg["poll"].get("options") or []]
    if "story" in msg:
        needs = True
    if isinstance(msg.get("users_shared"), dict):
        shared = msg["users_shared"]
        ids = [u.get("user_id") for u in shared.get("users") or []] or shared.get("user_ids") or []
        out += [str(i) for i in ids]
    if isinstance(msg.get("user_shared"), dict):
        out.append(str(msg["user_shared"].get("user_id", "")))
    if isinstance(msg.get("chat_shared"), dict):
        out.append(str(msg["chat_shared"].get("chat_id", "")))
    if isinstance(msg.get("web_app_data"), dict):
        out.append(msg["web_app_data"].get("data") or "")
    if isinstance(msg.get("checklist"), dict):
        out.append(msg["checklist"].get("title") or "")
    return [t for t in out if t], needs


def _files_of(msg: dict[str, Any]) -> list[int | None]:
    """The declared size of each file the message carries (a photo: its largest size)."""
    present = [k for k in MEDIA if msg.get(k)]
    if "animation" in present and "document" in present:
        present.remove("document")  # an animation also arrives as a document: one file
    sizes: list[int | None] = []
    for key in present:
        media = msg[key]
        if isinstance(media, list):
            media = max(media, key=lambda p: (p.get("width", 0) * p.get("height", 0), p.get("file_size", 0)))
        sizes.append(media.get("file_size"))
    return sizes


def expect(update: dict[str, Any]) -> Expected:
    kinds = [k for k in update if k != "update_id"]
    kind = kinds[0] if kinds else ""
    if kind == "callback_query":
        cq = update[kind]
        msg = cq.get("message") or {}
        chat = msg.get("chat") or {}
        private = chat.get("type") == "private" and chat.get("id") == (cq.get("from") or {}).get("id")
        data = cq.get("data")
        return Expected(
            stored=private, sender=str(chat.get("id")), texts=[data] if data else [], answered=None
        )
    role = MESSAGE_KINDS.get(kind)
    msg = update.get(kind) if role else None
    if not isinstance(msg, dict) or not CONTENT & {k for k, v in msg.items() if v not in (None, "", [])}:
        return Expected(stored=False, sender=str(((msg or {}).get("chat") or {}).get("id", "")))
    chat = msg.get("chat") or {}
    sender = str(chat.get("id"))
    if role == "channel":
        ok = chat.get("type") == "channel"
    else:
        ok = chat.get("type") == "private" and (msg.get("from") or {}).get("id") == chat.get("id")
    texts, needs = _texts_of(msg)
    return Expected(
        stored=ok,
        sender=sender,
        texts=texts,
        needs_text=needs,
        files=_files_of(msg),
        answered=ok and role == "client",
        edit=role == "edit",
        business=msg.get("business_connection_id") if role == "client" else None,
    )


def file_ids(node: Any) -> list[str]:
    """Every file id in the payload, so the fake serves each one."""
    if isinstance(node, dict):
        found = [node["file_id"]] if isinstance(node.get("file_id"), str) else []
        return found + [f for v in node.values() for f in file_ids(v)]
    if isinstance(node, list):
        return [f for v in node for f in file_ids(v)]
    return []


def inputs() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(HERE.glob("*.json"))]


async def run(harness: Any, fake: FakeTelegram) -> CorpusResult:
    """Post every input twice (a provider retry), wait until all is handled, then judge."""
    result = CorpusResult("telegram", known=dict(KNOWN))
    corpus = inputs()
    statuses: dict[str, list[int]] = {}
    for name, update in corpus:
        for fid in file_ids(update):
            fake.add_file(fid, f"file {fid}".encode())
        for _ in range(2):
            resp = await harness.post_telegram(update)
            statuses.setdefault(name, []).append(resp.status)
    await harness.settled(timeout=60)
    for name, update in corpus:
        problems = [f"HTTP {s}" for s in statuses[name] if s != 200]
        problems += await judge(harness, fake, update, expect(update))
        result.add(name, problems)
    return result


async def judge(harness: Any, fake: FakeTelegram, update: dict[str, Any], exp: Expected) -> list[str]:
    uid = str(update.get("update_id"))
    async with harness.db.read() as session:
        row = await message_repo.get_by_provider_id(session, "telegram", "in", uid)
        full: Message | None = await message_repo.get_message(session, row.id) if row else None
        replies = await outbox_repo.caused_by(session, row.id) if row else []
    if not exp.stored:
        problems = ["stored what is not a client message"] if full is not None else []
        if exp.sender and fake.texts_to(exp.sender):
            problems.append("answered what is not a client message")
        return problems
    if full is None:
        return ["not stored"]
    problems: list[str] = []
    if full.channel_user_id != exp.sender:
        problems.append(f"sender {full.channel_user_id} != {exp.sender}")
    missing = [t for t in exp.texts if t not in full.text]
    if missing:
        problems.append(f"text {full.text!r} lacks {missing!r}")
    if exp.needs_text and not full.text.strip():
        problems.append("empty text for a message with something to show")
    limit = harness.settings.media.max_bytes
    fetched = sum(1 for a in full.attachments if a.sha256)
    refused = sum(1 for a in full.attachments if a.error == "too_large")
    over = sum(1 for size in exp.files if size is not None and size > limit)
    if (len(full.attachments), fetched, refused) != (len(exp.files), len(exp.files) - over, over):
        problems.append(
            f"{fetched} fetched, {refused} refused of {len(full.attachments)} files; "
            f"expected {len(exp.files)}, {over} of them over the {limit} byte limit"
        )
    extra = (full.payload or {}).get("extra") or {}
    if exp.edit and not extra.get("edit_of"):
        problems.append("an edit not stored as an edit")
    answers = [r for r in replies if r.kind == "reply"]
    if exp.answered and not answers:
        problems.append("not answered")
    if exp.answered is False and answers:
        problems.append("answered (must not be)")
    if exp.business and answers:
        routed = [r for r in answers if (r.payload.get("extra") or {}).get("business_connection_id")]
        if len(routed) != len(answers):
            problems.append("reply not sent through the business connection")
    return problems
