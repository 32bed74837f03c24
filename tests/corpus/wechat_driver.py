"""Posts the WeChat corpus through the real signed route and judges what the repositories hold.

What each input should become is read here from the raw XML with the standard library's
ElementTree (the files are ours, committed, without DOCTYPE), never from the product's
parser: text where it had text, a file where it had media, the `FromUserName` as sender,
`MsgId` (or, for an event, an id that tells two events apart by their `EventKey`) as the
dedup id, one row for two deliveries, and no row and no answer for what a person would not
call a client message (reports, unfollows, analytics events).

Every input is delivered twice, as WeChat retries, each time with its own timestamp and
nonce. The transport rotates: plain; safe mode (AES, encrypted with wechatpy); and
compatibility mode (plaintext plus an `Encrypt` copy), posted both to a bot without and to a
bot with an AES key. Inputs whose identity collides with an earlier one's (35 files share one
`MsgId`, as their sources did) go to a fresh bot, so one fixture never hides another.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Message
from storage.repos import messages as message_repo
from tests.conftest import BotHarness
from tests.corpus.judge import CorpusResult
from tests.fakes.wechat import FakeWeChat, compat, encrypt, signed_query

CORPUS = Path(__file__).parent / "wechat"
MESSAGE_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}
MEDIA_KINDS = {"image": "photo", "voice": "voice", "video": "video", "shortvideo": "video"}
ANSWERED_EVENTS = {"subscribe", "click", "scan", "scancode_push", "scancode_waitmsg"}
QUIET_EVENTS = {"unsubscribe"}  # may be recorded, never answered
MODES = ("plain", "aes", "plain", "compat", "plain", "aes", "plain", "compat-aes")
KNOWN: dict[str, str] = {}  # file name -> why it is an accepted miss

# (mode needing AES, generation) -> a started bot; built by the test's factory.
HarnessFactory = Callable[[bool, int], Awaitable[BotHarness]]


@dataclass
class Expect:
    sender: str
    kind: str  # message, event, other, malformed
    msg_type: str
    event: str = ""
    identity: tuple[str, ...] = ()
    msg_id: str = ""
    event_key: str = ""
    stored: bool | None = True  # None: either
    answered: bool | None = None  # None: either
    text: str | None = None  # the stored text must equal this
    text_has: list[str] = field(default_factory=list)
    attachment: str = ""  # expected attachment kind
    media_id: str = ""


def _fields(root: ET.Element) -> dict[str, str]:
    out = {child.tag: (child.text or "").strip() for child in root}
    for box in ("ScanCodeInfo",):
        node = root.find(box)
        if node is not None:
            out.update({f"{box}.{c.tag}": (c.text or "").strip() for c in node})
    return out


def expect(raw: bytes) -> Expect:
    """What a person reading this XML expects the bot to keep and do."""
    try:
        f = _fields(ET.fromstring(raw))
    except ET.ParseError:  # a project's own bad-input fixture: refused (400), nothing kept
        return Expect("", "malformed", "", identity=("bad", raw.decode("utf-8", "replace")), stored=False)
    sender, msg_type = f.get("FromUserName", ""), f.get("MsgType", "").lower()
    msg_id = f.get("MsgId") or f.get("MsgID") or ""
    if msg_type == "event":
        event, key = f.get("Event", "").lower(), f.get("EventKey", "")
        e = Expect(sender, "event", msg_type, event, ("evt", sender, f.get("CreateTime", ""), event, key))
        e.event_key = key
        if event in ANSWERED_EVENTS:
            e.answered = True
            if event == "click":
                e.text = key
            elif event.startswith("scancode_"):
                result = f.get("ScanCodeInfo.ScanResult", "")
                if f.get("ScanCodeInfo.ScanType", "").lower() == "barcode":  # e.g. EAN_13,6901234567892
                    result = result.split(",", 1)[-1]
                e.text_has = [result]
        elif event in QUIET_EVENTS:
            e.stored, e.answered = None, False
        else:
            e.stored, e.answered = False, False
        return e
    if msg_type not in MESSAGE_TYPES:  # a type no one here knows: 200, the right sender if kept
        return Expect(sender, "other", msg_type, identity=("msg", msg_id), msg_id=msg_id, stored=None)
    e = Expect(sender, "message", msg_type, identity=("msg", msg_id), msg_id=msg_id, answered=True)
    if msg_type == "text":
        e.text = f.get("Content", "")
    elif msg_type == "location":
        e.text_has = [f.get("Location_X", ""), f.get("Location_Y", ""), f.get("Label", "")]
    elif msg_type == "link":
        e.text_has = [f.get("Title", ""), f.get("Url", "")]
    elif msg_type == "voice":
        e.text_has = [f.get("Recognition", "")]
    if msg_type in MEDIA_KINDS:
        e.attachment, e.media_id = MEDIA_KINDS[msg_type], f.get("MediaId", "")
        # A second photo or video while the bot waits for the order number is collected
        # quietly as evidence: media need not be answered each time.
        e.answered = None
    return e


def delivery(xml: str, mode: str) -> tuple[dict[str, str], bytes]:
    if mode == "plain":
        return signed_query(), xml.encode()
    return encrypt(xml) if mode == "aes" else compat(xml)


async def new_rows(h: BotHarness, after: int) -> list[Message]:
    async with h.db.read() as s:
        query = (
            select(Message)
            .where(Message.direction == "in", Message.id > after)
            .options(selectinload(Message.attachments))
            .order_by(Message.id)
        )
        return list((await s.execute(query)).scalars())


async def last_id(h: BotHarness) -> int:
    async with h.db.read() as s:
        return int((await s.execute(select(Message.id).order_by(Message.id.desc()).limit(1))).scalar() or 0)


def _judge_row(e: Expect, row: Message) -> list[str]:
    problems: list[str] = []
    if row.channel_user_id != e.sender:
        problems.append(f"sender {row.channel_user_id!r}, expected {e.sender!r}")
    pid = row.provider_message_id or ""
    if e.kind == "message" and pid != e.msg_id:
        problems.append(f"dedup id {pid!r}, expected MsgId {e.msg_id!r}")
    if e.kind == "event" and e.event_key and e.event_key not in pid:
        problems.append(f"event id {pid!r} ignores EventKey {e.event_key!r}")
    if e.text is not None and row.text.strip() != e.text.strip():
        problems.append(f"text {row.text!r}, expected {e.text!r}")
    for part in e.text_has:
        if part and part not in row.text:
            problems.append(f"text {row.text!r} lacks {part!r}")
    if e.attachment:
        kinds = [a.kind for a in row.attachments]
        if e.attachment not in kinds:
            problems.append(f"attachments {kinds}, expected a {e.attachment}")
        elif e.media_id and not any(a.sha256 for a in row.attachments):
            problems.append(f"{e.attachment} {e.media_id!r} not fetched")
    return problems


async def _check_stored(h: BotHarness, e: Expect, rows: list[Message]) -> list[str]:
    if e.stored is False:
        return (
            [f"stored {len(rows)} row(s) for a {e.event or e.msg_type} that is no client message"]
            if rows
            else []
        )
    if not rows:
        return ["nothing stored"] if e.stored else []
    if len(rows) > 1:
        return [f"{len(rows)} rows for one input delivered twice"]
    if e.kind == "message":  # the dedup id as the repository finds it
        async with h.db.read() as s:
            found = await message_repo.get_by_provider_id(s, "wechat", "in", e.msg_id)
        if found is None or found.id != rows[0].id:
            return [f"MsgId {e.msg_id!r} does not find the stored row"]
    return _judge_row(e, rows[0])


async def run_one(h: BotHarness, fake: FakeWeChat, name: str, raw: bytes, mode: str) -> list[str]:
    e = expect(raw)
    xml = raw.decode("utf-8")
    if e.media_id:
        data = b"\xff\xd8\xff\xe0corpus" if e.attachment == "photo" else b"\x00\x00\x00\x18ftypmp42"
        fake.add_media(e.media_id, data, "image/jpeg" if e.attachment == "photo" else "video/mp4")
    before, sent_before = await last_id(h), len(fake.sent())
    problems: list[str] = []
    answers: list[int] = []
    for attempt in (1, 2):  # WeChat's retry: same XML, new timestamp and nonce
        query, body = delivery(xml, mode.removesuffix("-aes"))
        resp = await h.client.post("/webhooks/wechat", params=query, data=body)
        if e.kind == "malformed":
            if resp.status != 400:
                problems.append(f"malformed XML answered HTTP {resp.status}, expected 400")
            await h.settled()
            answers.append(0)
            continue
        if resp.status != 200:
            problems.append(f"{mode} delivery {attempt}: HTTP {resp.status} {(await resp.text())[:120]}")
            break
        await h.settled()
        answers.append(len([c for c in fake.sent()[sent_before:] if c.body.get("touser") == e.sender]))
    if problems:
        return problems
    if answers[1] != answers[0]:
        problems.append(f"the retry was answered again ({answers[0]} then {answers[1]} sends)")
    if e.answered is True and not answers[0]:
        problems.append("not answered")
    if e.answered is False and answers[0]:
        problems.append(f"answered {answers[0]} time(s), must not be")
    return problems + await _check_stored(h, e, await new_rows(h, before))


def inputs() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.xml"))]


async def run_corpus(bot_for: HarnessFactory, fake: FakeWeChat) -> CorpusResult:
    result = CorpusResult("wechat", known=dict(KNOWN))
    used: list[set[tuple[str, ...]]] = []  # identities seen per generation
    bots: dict[tuple[bool, int], BotHarness] = {}
    for index, (name, raw) in enumerate(inputs()):
        mode = MODES[index % len(MODES)]
        identity = expect(raw).identity
        gen = next((g for g, seen in enumerate(used) if identity not in seen), len(used))
        if gen == len(used):
            used.append(set())
        used[gen].add(identity)
        aes = mode in {"aes", "compat-aes"}
        if (aes, gen) not in bots:
            bots[aes, gen] = await bot_for(aes, gen)
        result.add(name, await run_one(bots[aes, gen], fake, name, raw, mode))
    return result


def template_copy(template: Path, target: Path) -> str:
    """A migrated SQLite database for one more bot, copied instead of migrated again."""
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def product_of(name: str) -> str:
    index = (CORPUS / "INDEX.md").read_text(encoding="utf-8")
    found = re.search(rf"^\| {re.escape(name)} \| (\w+) \|", index, re.M)
    return found.group(1) if found else "?"


def by_product(result: CorpusResult) -> str:
    counts: dict[str, list[int]] = {}
    for v in result.verdicts:
        c = counts.setdefault(product_of(v.name), [0, 0])
        c[0] += 1
        c[1] += v.sensible
    return ", ".join(f"{p}: {s}/{n}" for p, (n, s) in sorted(counts.items()))


def summary(result: CorpusResult, extra: Any = None) -> str:
    return f"{result.line()} [{by_product(result)}]" + (f" {extra}" if extra else "")
