"""The fast tier: one handler, one Context built from plain values, no HTTP stack, no engine.

The database is real (SQLite in memory, migrated once for the module by the Alembic
migrations); each test runs in a transaction that is rolled back, so the tests do not
see each other's rows. Escalation is the one seam replaced: `FakeEscalator` implements
handlers.ports.Escalator and records what a handler asked of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import order_key
from bot.messages import Attachment, Channel, InboundMessage
from escalation.rota import Rota
from handlers.base import Context, Handler, Outcome
from handlers.claims.dialog import DIALOG, ClaimIntake
from handlers.handoff import Handoff
from handlers.orders.status import OrderStatus
from handlers.ports import Escalator
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    AuditLog,
    Client,
    Contact,
    Conversation,
    Escalation,
    Message,
    Order,
    OrderLine,
    OutboxRow,
    utcnow,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

URL = "sqlite+aiosqlite://"  # in memory


@dataclass
class Asked:
    reason: str
    conversation_id: int | None
    priority: str
    note: str
    cause_message_id: int | None


@dataclass
class FakeEscalator:
    """A test double of the seam: records escalations, refuses what these tests never expect."""

    asked: list[Asked] = field(default_factory=list)
    clock: datetime = field(default_factory=utcnow)

    @property
    def rota(self) -> Rota:
        return Rota(timezone="UTC", staff={}, rotations={})

    def now(self) -> datetime:
        return self.clock

    async def escalate(
        self,
        session: AsyncSession,
        conversation_id: int | None,
        reason: str,
        *,
        priority: str = "normal",
        note: str = "",
        cause_message_id: int | None = None,
    ) -> Escalation:
        self.asked.append(Asked(reason, conversation_id, priority, note, cause_message_id))
        return Escalation(reason=reason, priority=priority, policy="default", state="open")

    async def acknowledge(self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str) -> bool:
        raise AssertionError("not expected")

    async def resolve(self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str) -> bool:
        raise AssertionError("not expected")

    async def relay_to_client(
        self,
        session: AsyncSession,
        esc: Escalation,
        staff_key: str,
        text: str,
        attachments: list[Attachment],
        *,
        cause_message_id: int,
    ) -> Conversation | None:
        raise AssertionError("not expected")

    async def answer_in_conversation(
        self,
        session: AsyncSession,
        conv: Conversation,
        staff_key: str,
        text: str,
        attachments: list[Attachment],
        *,
        cause_message_id: int,
        esc_id: int | None = None,
    ) -> Conversation:
        raise AssertionError("not expected")

    def contact_of(self, staff_key: str) -> tuple[str, str] | None:
        return None

    async def put_on_call(
        self, session: AsyncSession, rotation: str, staff_key: str, start: datetime, end: datetime, *, by: str
    ) -> None:
        raise AssertionError("not expected")


def _satisfies_the_seam(fake: FakeEscalator) -> Escalator:
    return fake  # mypy: the double has the Protocol's shape, like the real service in bot/app.py


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db() -> AsyncIterator[Database]:
    database = Database(URL)
    try:
        await upgrade(URL, engine=database.write_engine)  # once for the module
        yield database
    finally:
        await database.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    s = db.write_sessions()
    await s.begin()
    try:
        yield s
    finally:
        await s.rollback()
        await s.close()


@dataclass
class World:
    acme: Client
    other: Client
    order: Order


async def seed(session: AsyncSession) -> World:
    acme = Client(key="acme", name="Acme Bags", language="en")
    other = Client(key="globex", name="Globex", language="en")
    session.add_all([acme, other])
    await session.flush()
    order = Order(
        number="PO-2026-0117",
        number_key=order_key("PO-2026-0117"),
        client_id=acme.id,
        status="in_production",
        eta=date(2026, 3, 2),
        spare_ratio=0.03,
        lines=[OrderLine(sku="TB-200", description="Tote bag", quantity=2000)],
    )
    cancelled = Order(
        number="PO-2026-0099", number_key=order_key("PO-2026-0099"), client_id=acme.id, status="cancelled"
    )
    theirs = Order(number="PO-2026-0500", number_key=order_key("PO-2026-0500"), client_id=other.id)
    session.add_all([order, cancelled, theirs])
    await session.flush()
    return World(acme, other, order)


async def context_for(
    session: AsyncSession, text: str, *, client: Client | None, is_button: bool = False, user: str = "5550001"
) -> Context:
    """A Context as the engine would build it, from plain values and rows in this transaction."""
    contact = Contact(channel="telegram", channel_user_id=user, client_id=client.id if client else None)
    session.add(contact)
    await session.flush()
    conv = Conversation(contact_id=contact.id, channel="telegram", language="en")
    inbound = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_user_id=user,
        provider_message_id="1",
        text=text,
        is_button=is_button,
    )
    session.add(conv)
    await session.flush()
    row = Message(
        channel="telegram", direction="in", channel_user_id=user, conversation_id=conv.id, text=text
    )
    session.add(row)
    await session.flush()
    return Context(
        session=session,
        message=inbound,
        message_id=row.id,
        contact=contact,
        client=client,
        conversation=conv,
        language="en",
    )


async def run(handler: Handler, ctx: Context) -> Outcome:
    assert handler.matches(ctx), f"{handler.name} should take {ctx.text!r}"
    return await handler.handle(ctx)


async def outbox_rows(session: AsyncSession, ctx: Context) -> list[OutboxRow]:
    return list(
        (
            await session.execute(
                select(OutboxRow).where(OutboxRow.cause_message_id == ctx.message_id).order_by(OutboxRow.id)
            )
        ).scalars()
    )


# ---- order status -------------------------------------------------------------------------------


async def test_order_status_answers_the_clients_own_order_and_queues_it(session: AsyncSession) -> None:
    world = await seed(session)
    ctx = await context_for(session, "where is my order po 2026 0117?", client=world.acme)

    assert await run(OrderStatus(), ctx) is Outcome.DONE

    [reply] = ctx.replies
    assert "Order PO-2026-0117: In production" in reply.text
    assert "2026-03-02" in reply.text and "60 spare" in reply.text  # ceil(2000 × 0.03), one rule
    [row] = await outbox_rows(session, ctx)
    assert (row.channel, row.channel_user_id, row.kind, row.state) == (
        "telegram",
        "5550001",
        "reply",
        "pending",
    )
    assert row.payload["text"] == reply.text and row.idempotency_key == f"reply:{ctx.message_id}:0"
    out = await session.get(Message, row.message_id)
    assert out is not None and out.conversation_id == ctx.conversation.id and out.delivery == "queued"


async def test_order_status_never_shows_another_clients_order(session: AsyncSession) -> None:
    world = await seed(session)
    theirs = await context_for(session, "PO-2026-0500 status", client=world.acme)
    missing = await context_for(session, "PO-2026-0777 status", client=world.acme, user="5550002")

    assert await run(OrderStatus(), theirs) is Outcome.DONE
    assert await run(OrderStatus(), missing) is Outcome.DONE

    # "not yours" reads exactly like "does not exist", and the number is not echoed
    [reply] = theirs.replies
    assert reply.text == missing.replies[0].text
    assert "PO-2026-0500" not in reply.text and "could not find" in reply.text
    [row] = await outbox_rows(session, theirs)
    assert row.payload["text"] == reply.text


async def test_order_status_refuses_an_unverified_sender(session: AsyncSession) -> None:
    await seed(session)
    ctx = await context_for(session, "PO-2026-0117 status", client=None, user="5550999")

    assert await run(OrderStatus(), ctx) is Outcome.DONE

    [reply] = ctx.replies
    assert "not linked" in reply.text and "In production" not in reply.text
    trail = (
        await session.execute(select(AuditLog.action).where(AuditLog.target == f"contact:{ctx.contact.id}"))
    ).scalars()
    assert list(trail) == ["verification_needed"]


# ---- the claims dialog's first step ------------------------------------------------------------


async def test_claim_from_the_menu_offers_the_clients_recent_orders_and_starts_the_dialog(
    session: AsyncSession,
) -> None:
    world = await seed(session)
    ctx = await context_for(session, "menu:claim", client=world.acme, is_button=True)

    assert await run(ClaimIntake(), ctx) is Outcome.DONE

    [reply] = ctx.replies
    assert "photos or a video of the defect" in reply.text
    # the client's own orders, cancelled ones left out; never another client's
    assert [b.value for b in reply.buttons] == ["PO-2026-0117"]
    assert ctx.conversation.dialog == DIALOG and ctx.in_dialog(DIALOG)
    assert ctx.dialog_state["step"] == "start" and ctx.dialog_state["options"] == ["PO-2026-0117"]
    [row] = await outbox_rows(session, ctx)
    assert [b["value"] for b in row.payload["buttons"]] == ["PO-2026-0117"]
    stored = await session.get(Conversation, ctx.conversation.id)
    assert stored is not None and stored.dialog == DIALOG


# ---- escalation through the seam ----------------------------------------------------------------


async def test_handoff_asks_the_escalator_and_tells_the_client(session: AsyncSession) -> None:
    world = await seed(session)
    ctx = await context_for(session, "I want to talk to a person", client=world.acme)
    escalator = FakeEscalator()

    assert await run(Handoff(_satisfies_the_seam(escalator)), ctx) is Outcome.DONE

    assert escalator.asked == [
        Asked("handoff", ctx.conversation.id, "normal", "I want to talk to a person", ctx.message_id)
    ]
    [reply] = ctx.replies
    assert "colleague" in reply.text
    assert len(await outbox_rows(session, ctx)) == 1


async def test_a_status_question_is_not_a_handoff(session: AsyncSession) -> None:
    """Positive control for the seam test: the handoff only takes what asks for a person."""
    world = await seed(session)
    ctx = await context_for(session, "where is my order po 2026 0117?", client=world.acme)
    escalator = FakeEscalator()
    handoff = Handoff(_satisfies_the_seam(escalator))

    assert not handoff.matches(ctx)
    assert escalator.asked == []
