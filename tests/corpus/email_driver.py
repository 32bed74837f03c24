"""The email corpus through the real route: APPENDed to a real Dovecot, taken by the product's poller.

Every `tests/corpus/email/*.eml` is delivered in one mailbox; the bot (IDLE, real engine,
SMTP to a fake server) takes them as it takes any client's mail. Each input is then judged
on what the repositories hold for its Message-ID (tests/corpus/email_oracle.py says what a
reader expects): one row, the sender's parsed address, the text, the files by name, and no
answer to an automatic mail or one without a usable From.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from channels.email import provider_id_for
from storage.models import Message, OutboxRow
from storage.repos import messages as message_repo
from tests.conftest import BotHarness, wait_until
from tests.corpus.email_oracle import Expect, expect, flat, words
from tests.corpus.judge import CorpusResult
from tests.fakes.dovecot import Dovecot, flags_of, imap_client

CORPUS = Path(__file__).parent / "email"

# Inputs that stay misses, with the reason (counted as failures all the same).
KNOWN: dict[str, str] = {}


def inputs() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.eml"))


async def deliver(server: Dovecot, raws: list[bytes]) -> None:
    """APPEND every mail over one IMAP connection, in order (UIDs 1..n in a fresh mailbox)."""
    client = await imap_client(server)
    try:
        for raw in raws:
            resp = await client.append(raw, mailbox="INBOX")
            assert resp.result == "OK", resp
    finally:
        await client.logout()


async def _stored(h: BotHarness, provider_id: str) -> tuple[Message | None, list[Any], int]:
    """The inbound row for this id, its attachments, and how many replies it caused."""
    async with h.db.read() as s:
        row = await message_repo.get_by_provider_id(s, "email", "in", provider_id)
        if row is None:
            return None, [], 0
        full = await message_repo.get_message(s, row.id)
        assert full is not None
        replies = await s.execute(
            select(OutboxRow.id).where(OutboxRow.cause_message_id == row.id, OutboxRow.kind != "alert")
        )
        return full, list(full.attachments), len(list(replies))


def judge_text(exp: Expect, row: Message) -> list[str]:
    extra = row.payload.get("extra", {})
    stored = flat(" ".join([row.text or "", str(extra.get("full_text") or "")]))
    problems = []
    for text in exp.texts:
        toks = words(text)
        if not toks:
            continue
        missing = [t for t in toks if t not in stored]
        if len(missing) > len(toks) * 0.15:
            problems.append(f"text lost ({len(missing)}/{len(toks)} words missing, e.g. {missing[:3]})")
            break
    return problems


def judge_files(exp: Expect, atts: list[Any]) -> list[str]:
    problems = []
    if any(a.mime.startswith("multipart/") for a in atts):
        problems.append("a multipart container stored as a file")
    expected = len(exp.files) + exp.forwarded
    if len(atts) != expected:
        problems.append(f"{len(atts)} files stored, {expected} expected")
    names = {a.filename for a in atts}
    shown = {(n or "")[:60] for n in names}  # a cut-off or partly undecodable name still names the file
    for name, fair in zip(exp.files, exp.names, strict=True):
        if name and not {safe_name(n)[:60] for n in fair} & shown:
            problems.append(f"file {name!r} missing (stored {sorted(n or '-' for n in names)[:4]})")
            break
    emls = [a for a in atts if a.mime == "message/rfc822"]
    if exp.forwarded and len(emls) < exp.forwarded:
        problems.append("forwarded mail not kept as .eml")
    return problems


def safe_name(name: str) -> str:
    """The base name a file is shown under: no directories of either kind of path."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")[:200]


async def judge(h: BotHarness, name: str, uid: int, exp: Expect, seen: dict[str, str]) -> list[str]:
    if exp.message_id is not None:
        pid = provider_id_for(exp.message_id)
    else:
        pid = f"<uid-{uid}.{h.runtime.adapters['email'].account}>"  # type: ignore[attr-defined]
    if pid in seen:  # the same Message-ID delivered again: one row, judged with its first delivery
        row, _, _ = await _stored(h, pid)
        return [] if row is not None else [f"duplicate of {seen[pid]} but nothing stored"]
    seen[pid] = name
    row, atts, replies = await _stored(h, pid)
    if row is None:
        return [f"nothing stored under {pid[:60]}"]
    problems: list[str] = []
    extra = row.payload.get("extra", {})
    if exp.sender is not None and row.channel_user_id != exp.sender:
        problems.append(f"sender {row.channel_user_id!r}, expected {exp.sender!r}")
    if exp.sender is None and not extra.get("needs_staff"):
        problems.append("no usable From, but not flagged for staff")
    if exp.automatic and replies:
        problems.append(f"answered ({replies}) though it must not be")
    problems += judge_text(exp, row)
    problems += judge_files(exp, atts)
    return problems


async def run(
    make_bot: Callable[[], Awaitable[BotHarness]], server: Dovecot, only: list[str] | None = None
) -> CorpusResult:
    files = [p for p in inputs() if only is None or p.name in only]
    raws = [p.read_bytes() for p in files]
    h = await make_bot()
    await deliver(server, raws)

    async def all_seen() -> bool:
        flags = await flags_of(server)
        return len(flags) == len(raws) and all("\\Seen" in f for f in flags.values())

    await wait_until(all_seen, 120, interval=0.5)
    await h.settled(60)
    result = CorpusResult("email", known=dict(KNOWN))
    seen: dict[str, str] = {}
    for uid, (path, raw) in enumerate(zip(files, raws, strict=True), start=1):
        try:
            exp = expect(raw)
        except Exception as exc:  # the oracle itself cannot read it: judged on being stored at all
            exp = Expect(sender=None, message_id=None, automatic=True)
            exp.texts = [f"oracle failed: {exc}"][:0]
        result.add(path.name, await judge(h, path.name, uid, exp, seen))
    return result
