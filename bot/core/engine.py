"""Per-conversation handling: contact, conversation, observers, responder, outbox rows.

A message is handled in one transaction that also writes every reply it causes and
marks it handled, so a crash at any point leaves it either fully done or untouched
(and picked up again by the sweep); the turns of different conversations that are
ready together share that transaction, each in its own savepoint (bot/core/turns.py).
One contact's messages are handled one at a time in arrival order, whichever process
stored them: the handling transaction first takes the conversation's lease (a
PostgreSQL advisory transaction lock, storage/leases.py) and then handles that
contact's *oldest* unhandled message, not the one that woke it. A process that finds
the lease taken stands back: the holder re-reads after its commit and so finds the
newer message. A killed holder's lease ends with its connection, and the sweep (every
`cluster.sweep_seconds`) finds what nobody is handling. Different contacts run
concurrently.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flood import FloodGate
from bot.core.impersonation import suspected_spoof
from bot.core.metrics import Metrics
from bot.core.reading import Content, MessageReading
from bot.core.turns import TurnBatcher
from bot.core.writer import Stored
from bot.messages import Attachment, InboundMessage, detect_language
from bot.ports import MediaFetcher, StoredReader
from bot.tasks import cancel_and_wait
from handlers.base import Context, Handler, Outcome
from handlers.ports import Escalator, escalate
from storage import leases
from storage.db import Database
from storage.models import utcnow
from storage.repos import audit, clients, conversations
from storage.repos import messages as message_repo
from storage.repos import staff as staff_repo

log = logging.getLogger(__name__)


class Turn(enum.Enum):
    """How a worker's attempt at a conversation's oldest message ended."""

    DONE = "done"  # handled and committed
    STALE = "stale"  # not the oldest any more (handled elsewhere): look again
    BUSY = "busy"  # another process holds the conversation: it handles the rest


class Engine:
    def __init__(
        self,
        db: Database,
        handlers: Sequence[Handler],
        fetchers: Mapping[str, MediaFetcher],
        metrics: Metrics,
        *,
        escalator: Escalator,
        after_commit: Callable[[], None] | None = None,
        media_limit_bytes: int = 20_000_000,
        concurrency: int = 32,
        sweep_seconds: float = 30.0,
        flood_per_minute: int = 0,
        clock: Callable[[], datetime] = utcnow,
        media_readers: Sequence[Callable[[InboundMessage], Awaitable[None]]] = (),
        stored_readers: Mapping[str, StoredReader] | None = None,
    ) -> None:
        self.db = db
        self.handlers = list(handlers)
        self.metrics = metrics
        self.escalator = escalator
        self.after_commit = after_commit
        self.sweep_seconds = sweep_seconds
        self.clock = clock  # `ctx.now` of every handled message; tests move it (a closure "today")
        self.media_limit_bytes = media_limit_bytes
        self.flood = FloodGate(flood_per_minute, escalator)
        self.reading = MessageReading(
            fetchers, metrics, stored_readers=stored_readers, media_readers=media_readers
        )  # before the lock: a deferred parse, downloads, OCR
        self._slots = asyncio.Semaphore(concurrency)
        # Conversations in flight share a transaction (bot/core/turns.py): as many as may be in flight.
        self.turns = TurnBatcher(db, max_turns=concurrency, parallel=1 if db.sqlite else 8)
        self._dirty: set[tuple[str, str]] = set()  # contacts with a message stored since their worker looked
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    # ---- scheduling --------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self.sweep()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="engine-sweeper")

    async def stop(self, grace: float = 10.0) -> None:
        """Let in-flight conversations finish their message; the rest are left to the other
        processes' sweep (or this one's next start), their leases free once the transaction ends."""
        self._stopping = True
        await cancel_and_wait(self._sweeper)
        self._dirty.clear()
        workers = list(self._workers.values())
        if workers:
            _done, pending = await asyncio.wait(workers, timeout=grace)
            for task in pending:
                await cancel_and_wait(task)
        await self.turns.stop()
        self._workers.clear()
        self._idle.set()

    def submit(self, stored: Sequence[Stored]) -> None:
        self.wake_contacts((item.channel, item.channel_user_id) for item in stored)

    def wake_contacts(self, keys: Iterable[tuple[str, str]]) -> None:
        """These contacts have messages to handle: make sure a worker looks (again)."""
        if self._stopping:
            return
        for key in keys:
            self._dirty.add(key)
            if key not in self._workers:
                self._idle.clear()
                self._workers[key] = asyncio.create_task(self._drain(key), name=f"conversation-{key[0]}")

    async def sweep(self, *, settle: float = 0.0) -> None:
        """Look for every contact with a stored-but-unhandled message (after a crash, here or in
        another process, or a missed wake-up). `settle`: leave messages stored within that many
        seconds to the process that stored them (it was woken by its own writer)."""
        stored_before = utcnow() - timedelta(seconds=settle) if settle else None
        async with self.db.read() as session:
            contacts = await message_repo.unhandled_contacts(session, stored_before=stored_before)
        self.wake_contacts(contacts)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep(settle=self.sweep_seconds)
            except Exception:
                log.exception("sweep failed")

    async def wait_idle(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout)

    @property
    def busy_conversations(self) -> int:
        return len(self._workers)

    async def _drain(self, key: tuple[str, str]) -> None:
        try:
            while key in self._dirty and not self._stopping:
                self._dirty.discard(key)
                while not self._stopping:
                    try:
                        async with self._slots:
                            if self._stopping:  # left for the sweep (here or elsewhere)
                                break
                            progressed = await self.handle_next(key)
                    except Exception:
                        log.exception("handling the conversation of %s failed", key[0])
                        progressed = False  # the sweep comes back to it
                    if not progressed:
                        break
        finally:
            self._workers.pop(key, None)
            if not self._workers:
                self._idle.set()

    # ---- handling one message ---------------------------------------------------------------

    async def handle_next(self, key: tuple[str, str]) -> bool:
        """Handle this contact's oldest unhandled message; False when there is none, or when
        another process holds the conversation (it will handle what is left).

        Also False after the last one on SQLite: one process stores every message there and
        wakes the worker for each (`_dirty`), so looking again would only find nothing.
        Other processes' messages on PostgreSQL come with no wake-up here: look again."""
        started = time.perf_counter()
        async with self.db.quick_connection() as conn:
            row = await message_repo.oldest_unhandled(conn, *key)
        if row is None:
            return False
        message_id = row.id
        reading = await self.reading.read(row)
        inbound, content = reading.message, reading.content
        try:
            outcome = await self._handle_in_transaction(
                key, message_id, inbound, reading.problems, row.created_at, content
            )
        except Exception:
            self.metrics.handler_errors.labels(str(inbound.channel)).inc()
            log.exception("handler failed on message %s; apologising and handing to staff", message_id)
            outcome = await self._handle_failure(key, message_id, inbound, content)
        if outcome is Turn.BUSY:
            return False
        if outcome is Turn.DONE:
            self.metrics.handling_seconds.labels(str(inbound.channel)).observe(time.perf_counter() - started)
            if self.after_commit:
                self.after_commit()
            return row.more or not self.db.sqlite
        return True

    async def _build_context(
        self, session: AsyncSession, message_id: int, inbound: InboundMessage
    ) -> Context:
        """Only after `_take_turn`: the message is then this conversation's oldest unhandled one."""
        contact, new_contact = await clients.contact_for_inbound(
            session, str(inbound.channel), inbound.channel_user_id, inbound.sender_name, inbound.received_at
        )
        client = await clients.get_client_by_id(session, contact.client_id) if contact.client_id else None
        staff = await staff_repo.find_by_contact(session, str(inbound.channel), inbound.channel_user_id)
        if staff is not None and not inbound.sender_authenticated:
            # A staff address nobody vouched for (email From is typed by the sender): an ordinary sender.
            await suspected_spoof(session, inbound, staff, message_id)
            staff = None
        conv = None if new_contact else await conversations.current_conversation(session, contact)
        current = conv.language if conv else None
        fallback = contact.language or (client.language if client else None) or current
        if inbound.is_button:
            # A button's value ("menu:claim") is ours, not the client's words: keep the
            # language the conversation is already in.
            language = current or fallback or "en"
        else:
            language = detect_language(inbound.text, fallback)
        started = conv is None
        if conv is None:
            conv = await conversations.start_conversation(session, contact, language=language, at=utcnow())
        else:
            conv.language = language
            conversations.touch(conv, utcnow())
        return Context(
            session=session,
            message=inbound,
            message_id=message_id,
            contact=contact,
            client=client,
            conversation=conv,
            language=language,
            staff=staff,
            now=self.clock(),
            conversation_started=started,
        )

    async def _take_turn(self, session: AsyncSession, key: tuple[str, str], message_id: int) -> Turn | None:
        """The conversation's lease, then: is `message_id` still its oldest unhandled message?"""
        if not await leases.try_xact_lock(session, leases.conversation_key(*key)):
            return Turn.BUSY
        if await message_repo.oldest_unhandled_id(session, *key) != message_id:
            return Turn.STALE  # handled elsewhere meanwhile, or an older one became visible
        return None

    async def _handle_in_transaction(
        self,
        key: tuple[str, str],
        message_id: int,
        inbound: InboundMessage,
        media_problems: list[Attachment],
        stored_at: datetime,
        content: Content,
    ) -> Turn:
        async def turn(session: AsyncSession) -> tuple[Turn, Context | None]:
            refused = await self._take_turn(session, key, message_id)
            if refused is not None:
                return refused, None
            ctx = await self._build_context(session, message_id, inbound)
            for att in inbound.attachments:
                await message_repo.add_attachment(session, message_id, att)
            await message_repo.mark_handled(session, message_id, ctx.conversation.id, content)
            if inbound.extra.get("no_reply"):
                # Auto-replies, bounces and list mail (set by the email adapter): stored, never
                # answered, so two robots can never start a mail loop.
                return Turn.DONE, None
            if await self.flood.admit(ctx, stored_at):  # else stored and handled, not answered
                await self._respond(ctx, media_problems)
            return Turn.DONE, ctx

        outcome, ctx = await self.turns.run(turn)  # returns once the shared transaction committed
        if ctx is None:
            return outcome
        self.metrics.messages_in.labels(str(inbound.channel)).inc()
        for hook in ctx.on_commit:
            try:
                await hook()
            except Exception:
                log.exception("post-commit hook failed")
        return Turn.DONE

    async def _respond(self, ctx: Context, media_problems: list[Attachment]) -> None:
        if media_problems:
            await self._tell_media_problems(ctx, media_problems)
            # The message's text is still handled; the failed files are no longer part of it.
            ctx.message.attachments = [a for a in ctx.message.attachments if not a.error]
        await self.run_handlers(ctx)

    async def run_handlers(self, ctx: Context) -> None:
        for handler in self.handlers:
            if handler.observer and handler.matches(ctx):
                outcome = await handler.handle(ctx)
                if outcome is Outcome.DONE:
                    return  # the observer owned the whole turn (an edit recorded, nothing to say)
                ctx.handled = ctx.handled or outcome is Outcome.HANDLED
        owner = ctx.conversation.dialog if ctx.in_dialog(ctx.conversation.dialog or "") else None
        ordered = sorted((h for h in self.handlers if not h.observer), key=lambda h: h.name != owner)
        for handler in ordered:
            if handler.matches(ctx) and await handler.handle(ctx) is Outcome.DONE:
                return

    async def _tell_media_problems(self, ctx: Context, problems: list[Attachment]) -> None:
        too_large = [a for a in problems if a.error == "too_large"]
        if too_large:
            limit_mb = max(1, self.media_limit_bytes // 1_000_000)
            await ctx.reply(
                ctx._(
                    "Your file is too large for us to receive here (the limit is {limit_mb} MB). "
                    "Please send a smaller photo or video; the rest of your message was received.",
                    limit_mb=limit_mb,
                )
            )
        if len(too_large) < len(problems):
            await ctx.reply(
                ctx._(
                    "We could not download one of your files. Please send it again.",
                )
            )

    async def _handle_failure(
        self, key: tuple[str, str], message_id: int, inbound: InboundMessage, content: Content
    ) -> Turn:
        """Never leave a client unanswered or a message stuck in a retry loop: apologise and flag it."""
        try:
            async with self.db.write() as session:
                refused = await self._take_turn(session, key, message_id)
                if refused is not None:
                    return refused
                ctx = await self._build_context(session, message_id, inbound)
                await message_repo.mark_handled(session, message_id, ctx.conversation.id, content)
                await audit.record(session, "bot", "handler_failed", f"message:{message_id}")
                await ctx.reply(
                    ctx._(
                        "Sorry, something went wrong on our side. A colleague will follow up with you.",
                    )
                )
                await escalate(self.escalator, ctx, "handler_failed", note=inbound.text)
        except Exception:
            log.exception("could not record the failure of message %s", message_id)
            return Turn.BUSY  # nothing recorded: the sweep tries again
        return Turn.DONE
