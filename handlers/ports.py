"""What handlers need of escalation, as a Protocol: the one seam between the two.

Handlers receive an `Escalator` through their constructor (bot/app.py wires
escalation.service.EscalationService, which satisfies it structurally and is checked
there by mypy). A handler never imports the concrete service, so a unit test can run
one against a small fake of this seam, and the service can change inside without
handlers noticing as long as these members keep their shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.messages import Attachment
from bot.states import Priority
from escalation.rota import Rota
from handlers.base import Context
from storage.models import Conversation, Escalation


class Escalator(Protocol):
    """Open, take, answer and close escalations; who is on call; how to reach a staff member
    and in which language."""

    @property
    def rota(self) -> Rota: ...

    def now(self) -> datetime: ...

    async def escalate(
        self,
        session: AsyncSession,
        conversation_id: int | None,
        reason: str,
        *,
        priority: str = Priority.NORMAL,
        note: str = "",
        cause_message_id: int | None = None,
    ) -> Escalation: ...

    async def acknowledge(
        self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str
    ) -> bool: ...

    async def resolve(self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str) -> bool: ...

    async def relay_to_client(
        self,
        session: AsyncSession,
        esc: Escalation,
        staff_key: str,
        text: str,
        attachments: list[Attachment],
        *,
        cause_message_id: int,
    ) -> Conversation | None: ...

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
    ) -> Conversation: ...

    def contact_of(self, staff_key: str) -> tuple[str, str] | None: ...

    def translator_of(self, staff_key: str) -> Translator: ...

    async def put_on_call(
        self, session: AsyncSession, rotation: str, staff_key: str, start: datetime, end: datetime, *, by: str
    ) -> None: ...


async def escalate(
    escalator: Escalator, ctx: Context, reason: str, *, priority: str = Priority.NORMAL, note: str = ""
) -> Escalation:
    """Open (or raise) the escalation of this turn's conversation, caused by this turn's message."""
    return await escalator.escalate(
        ctx.session,
        ctx.conversation.id,
        reason,
        priority=priority,
        note=note,
        cause_message_id=ctx.message_id,
    )
