"""The WhatsApp corpus: every form in tests/corpus/whatsapp/ posted through the signed Twilio route.

Each input is one JSON object of form fields (a source project's shape with our values, see
INDEX.md), posted twice (the second is Twilio's retry) to `/webhooks/whatsapp` with an
`X-Twilio-Signature` computed by twilio's own `RequestValidator` for the test's URL. The bot
runs in sandbox mode, so nothing leaves the machine: media URLs that name real hosts are
never dialled and replies are recorded, not sent.

What a person reading the raw form expects is worked out here from the form alone
(`expect`), never from the product's parser: a status report (MessageStatus, or an SmsStatus
other than received/receiving) or a form carrying no message at all stores nothing and is
answered by nobody; anything else is one stored client message from `From`, deduplicated on
its MessageSid (SmsMessageSid, SmsSid), with the Body as its text, every MediaUrl{N} as an
attachment, a location's coordinates and a click-to-WhatsApp ad's fields kept, and a reply.

Forms that repeat a MessageSid (chatwoot's specs use one throughout, now `SMab`) are genuinely
different messages in their source, so inputs are spread over rounds, each a fresh database
in which no MessageSid repeats; each round's bot is configured for the AccountSid its forms
were sent to (a form for another account is refused, as it must be).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.tools.demo import seed
from storage.migrate import upgrade
from storage.models import Message, OutboxRow
from storage.repos import messages as message_repo
from tests.conftest import BotHarness, make_settings
from tests.corpus.judge import CorpusResult
from tests.fakes.twilio import AUTH_TOKEN, FROM_NUMBER, encode, sign

CORPUS = Path(__file__).parent / "whatsapp"
INBOUND = "/webhooks/whatsapp"
INBOUND_STATES = {"received", "receiving"}
REFERRAL_FIELDS = (
    "ReferralBody",
    "ReferralHeadline",
    "ReferralSourceUrl",
    "ReferralSourceId",
    "ReferralSourceType",
    "ReferralCtwaClid",
    "ReferralMediaUrl",
)
DEFAULT_ACCOUNT = "AC" + "0" * 32

# file name -> why its miss is accepted (counted as a failure all the same).
KNOWN: dict[str, str] = {}


@dataclass
class Expectation:
    message: bool  # a client message (else: nothing stored, nobody answered)
    sid: str = ""
    sender: str = ""
    texts: list[str] = field(default_factory=list)  # each must appear in the stored text
    media: list[tuple[str, str]] = field(default_factory=list)  # (url, content type)
    name: str = ""
    kept: list[str] = field(default_factory=list)  # values that must be stored somewhere


def load() -> list[tuple[str, list[tuple[str, str]]]]:
    inputs = []
    for path in sorted(CORPUS.glob("*.json")):
        fields = json.loads(path.read_text(encoding="utf-8"))
        inputs.append((path.name, [(str(k), str(v)) for k, v in fields.items()]))
    return inputs


def expect(pairs: list[tuple[str, str]]) -> Expectation:
    """What the form is, read from Twilio's documented fields only."""
    form = dict(pairs)
    message_status = form.get("MessageStatus", "")
    sms_status = form.get("SmsStatus", "").lower()
    if message_status or (sms_status and sms_status not in INBOUND_STATES):
        return Expectation(message=False)
    media = [
        (form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(10)
        if form.get(f"MediaUrl{i}")
    ]
    located = bool(form.get("Latitude") and form.get("Longitude"))
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
    if not sid or ("Body" not in form and not media and not located):
        return Expectation(message=False)
    body = form.get("Body", "").replace("\x00", "").strip()
    if form.get("ButtonPayload") and body == form.get("ButtonText", "").strip():
        body = form["ButtonPayload"]  # a tap on a quick reply: its payload is what the button meant
    texts = [body] if body else []
    if located:
        texts += [form["Latitude"], form["Longitude"]]
    texts += [form[k] for k in ("Address", "Label") if form.get(k)]
    kept = [form[k] for k in REFERRAL_FIELDS if form.get(k)]
    return Expectation(True, sid, form.get("From", ""), texts, media, form.get("ProfileName", ""), kept)


def rounds(inputs: list[tuple[str, list[tuple[str, str]]]]) -> list[list[tuple[str, list[tuple[str, str]]]]]:
    """Greedy: an input joins the first round of its account in which its MessageSid is new."""
    out: list[tuple[str, set[str], list[tuple[str, list[tuple[str, str]]]]]] = []
    for name, pairs in inputs:
        form = dict(pairs)
        account = form.get("AccountSid", DEFAULT_ACCOUNT)
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or name
        for acc, sids, members in out:
            if acc == account and sid not in sids:
                sids.add(sid)
                members.append((name, pairs))
                break
        else:
            out.append((account, {sid}, [(name, pairs)]))
    return [members for _, _, members in out]


async def snapshot(h: BotHarness) -> tuple[set[int], set[int]]:
    async with h.db.read() as s:
        inbound = {
            int(i) for i in (await s.execute(select(Message.id).where(Message.direction == "in"))).scalars()
        }
        outbox = {int(i) for i in (await s.execute(select(OutboxRow.id))).scalars()}
    return inbound, outbox


async def judge_one(
    h: BotHarness, pairs: list[tuple[str, str]], statuses: list[int], before: tuple[set[int], set[int]]
) -> list[str]:
    exp = expect(pairs)
    problems = [f"HTTP {s}" for s in statuses if s != 200]
    inbound_ids, _ = await snapshot(h)
    new_inbound = sorted(inbound_ids - before[0])
    async with h.db.read() as s:
        replies = [r for r in (await s.execute(select(OutboxRow))).scalars() if r.id not in before[1]]
        rows = [m for m in [await message_repo.get_message(s, i) for i in new_inbound] if m is not None]
    if not exp.message:
        if rows:
            problems.append(f"stored {len(rows)} message(s) for what is no client message")
        if replies:
            problems.append(f"answered {[r.channel_user_id for r in replies]}")
        return problems
    if len(rows) != 1 or rows[0].provider_message_id != exp.sid:
        return [*problems, f"stored {[m.provider_message_id for m in rows]}, expected one {exp.sid!r}"]
    row = rows[0]
    if row.channel_user_id != exp.sender:
        problems.append(f"sender {row.channel_user_id!r}, expected {exp.sender!r}")
    problems += [f"text {row.text!r} lacks {t!r}" for t in exp.texts if t not in row.text]
    if not exp.texts and not exp.media and row.text.strip() == "":
        problems.append("empty text")
    stored = [(a.provider_ref, a.mime) for a in row.attachments]
    if [u for u, _ in stored] != [u for u, _ in exp.media]:
        problems.append(f"attachments {stored}, expected {exp.media}")
    else:
        problems += [
            f"attachment {u} stored as {m!r}, sent as {c!r}"
            for (u, m), (_, c) in zip(stored, exp.media, strict=True)
            if "/" in c and m != c
        ]
    payload = json.dumps(row.payload, ensure_ascii=False)
    if exp.name and row.payload.get("sender_name") != exp.name:
        problems.append(f"sender name {row.payload.get('sender_name')!r}, expected {exp.name!r}")
    problems += [
        f"{v!r} not kept" for v in exp.kept if json.dumps(v, ensure_ascii=False)[1:-1] not in payload
    ]
    if not any(r.channel_user_id == exp.sender for r in replies):
        problems.append("nobody answered the client")
    return problems


async def run(tmp_path: Path, parallel: int = 8) -> CorpusResult:
    """Rounds run side by side (each its own bot and database); verdicts are listed in file order."""
    template = tmp_path / "template.db"
    await upgrade(f"sqlite+aiosqlite:///{template}")
    h = await BotHarness(
        settings_for(tmp_path / "seed", f"sqlite+aiosqlite:///{template}", DEFAULT_ACCOUNT)
    ).start()
    await seed(h.db)  # once: each round starts from a copy of the seeded database
    await h.close()
    gate = asyncio.Semaphore(parallel)
    found: dict[str, list[str]] = {}

    async def one_round(index: int, members: list[tuple[str, list[tuple[str, str]]]]) -> None:
        async with gate:
            account = dict(members[0][1]).get("AccountSid", DEFAULT_ACCOUNT)
            db = tmp_path / f"round{index}.db"
            shutil.copy(template, db)
            bot = BotHarness(settings_for(tmp_path / f"r{index}", f"sqlite+aiosqlite:///{db}", account))
            await bot.start()
            try:
                for name, pairs in members:
                    before = await snapshot(bot)
                    statuses = [await post(bot, pairs) for _ in range(2)]  # the second is Twilio's retry
                    await bot.settled()
                    found[name] = await judge_one(bot, pairs, statuses, before)
            finally:
                await bot.close()

    inputs = load()
    await asyncio.gather(*(one_round(i, members) for i, members in enumerate(rounds(inputs))))
    result = CorpusResult("whatsapp", known=dict(KNOWN))
    for name, _ in inputs:
        result.add(name, found[name])
    return result


def settings_for(root: Path, db_url: str, account: str) -> Any:
    from config.settings import ServerSettings, WhatsAppSettings

    settings = make_settings(
        root,
        db_url,
        whatsapp=WhatsAppSettings(
            enabled=True, account_sid=account, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER
        ),
    )
    server = replace(settings.server, sandbox=True)
    assert isinstance(server, ServerSettings)
    return replace(settings, server=server)


async def post(h: BotHarness, pairs: list[tuple[str, str]]) -> int:
    url = h.settings.server.public_url + INBOUND
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, pairs)}
    resp = await h.client.post(INBOUND, data=encode(pairs), headers=headers)
    await resp.read()
    return int(resp.status)
