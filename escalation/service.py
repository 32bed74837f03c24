"""Escalations: open (or raise), page level by level, acknowledge, resolve, relay a staff answer.

How a row times its steps, and why a restart or a second process never pages a step twice,
is told in escalation/paging.py, the base class that does the paging.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.ids import escalation_number as number
from bot.messages import Attachment, Channel, OutboundMessage
from bot.states import ConversationState, EscalationState, Priority
from escalation import alerts
from escalation.paging import Paging
from escalation.policy import FINAL
from escalation.rota import Override
from storage.models import Conversation, Escalation
from storage.repos import audit, conversations, outbox
from storage.repos import escalations as repo

log = logging.getLogger(__name__)
WAIT_FOR_STAFF = {"handoff"}  # reasons after which the client waits for a person rather than the bot




class EscalationService(Paging):
    """The one place that changes escalation rows; satisfies handlers.ports.Escalator (see bot/app.py)."""

    async def escalate(
        self,
        session: AsyncSession,
        conversation_id: int | None,
        reason: str,
        *,
        priority: str = Priority.NORMAL,
        note: str = "",
        claim_id: int | None = None,
        cause_message_id: int | None = None,
    ) -> Escalation:
        """Open an escalation for a conversation, or raise the one already active.

        Handlers reach it through handlers.ports.Escalator; the outbox failure hook through
        `delivery_failed`, in the failure's transaction.
        """
        now = self.clock()
        existing = await repo.active_for_conversation(session, conversation_id) if conversation_id else None
        if existing is not None:
            return await self._raise(session, existing, reason, priority, note, now, cause_message_id)
        policy = self.rota.policy_for(reason)
        esc = Escalation(
            reason=reason,
            priority=priority,
            policy=policy.name,
            state=EscalationState.OPEN,
            level=0,
            round=0,
            conversation_id=conversation_id,
            claim_id=claim_id,
            note=note[:2000] if note else None,
            opened_at=now,
            alerts=[],
        )
        session.add(esc)
        await session.flush()
        esc.next_due_at = self.due_at(esc, policy, (1, 1))
        await audit.record(
            session, "bot", "escalation_opened", number(esc.id), reason=reason, priority=priority
        )
        if self.metrics is not None:
            self.metrics.escalations_opened.labels(reason, priority).inc()
        if reason in WAIT_FOR_STAFF and conversation_id is not None:
            # The client asked for a person: the bot stops answering, and what they write next is
            # forwarded to the people paged until someone takes it (handlers/relay.py).
            conv = await conversations.get_conversation(session, conversation_id)
            if conv is not None and conv.state == ConversationState.BOT:
                conversations.hand_to_staff(conv, None, now)
        await self.advance(session, esc, now, cause_message_id=cause_message_id)
        return esc

    async def delivery_failed(
        self, session: AsyncSession, conversation_id: int | None, *, note: str = ""
    ) -> Escalation | None:
        """For the outbox failure hook: a reply that could not reach the client (window closed, refused).

        Call it in the failure's transaction with the conversation of the failed row; a
        person then contacts the client another way. Messages without a conversation
        (alerts to staff) are not escalated, so a dead staff channel cannot loop.
        """
        if conversation_id is None:
            return None
        return await self.escalate(session, conversation_id, "delivery_failed", note=note)

    async def _raise(
        self,
        session: AsyncSession,
        esc: Escalation,
        reason: str,
        priority: str,
        note: str,
        now: datetime,
        cause_message_id: int | None,
    ) -> Escalation:
        """A second reason on an active escalation: note it; urgency restarts the climb (urgent policy)."""
        if note:
            esc.note = ((esc.note + "\n") if esc.note else "") + f"[{reason}] {note}"[:500]
        if priority == Priority.URGENT and esc.priority != Priority.URGENT:
            esc.priority = Priority.URGENT
            esc.reason = reason
            policy = self.rota.policy_for(reason)
            if esc.state == EscalationState.OPEN:
                # Start the urgent policy from its first level now. Earlier pages stay on record with
                # their round negated (round <= 0: "before the raise"), so the new climb pages afresh.
                for alert in esc.alerts:
                    alert.round = -abs(alert.round)
                await session.flush()
                esc.policy = policy.name
                esc.opened_at = now
                esc.level, esc.round, esc.final_alert_sent = 0, 0, False
                esc.next_due_at = self.due_at(esc, policy, (1, 1))
                await self.advance(session, esc, now, cause_message_id=cause_message_id)
            await audit.record(session, "bot", "escalation_raised", number(esc.id), reason=reason)
        return esc

    async def advance(
        self, session: AsyncSession, esc: Escalation, now: datetime, *, cause_message_id: int | None = None
    ) -> int:
        """Page every step that is due; return how many alerts were queued."""
        if esc.state != EscalationState.OPEN:
            esc.next_due_at = None
            return 0
        policy = self.policy_of(esc)
        queued = 0
        while esc.next_due_at is not None and esc.next_due_at <= now:
            step = self.next_step(esc, policy)
            if step is None:
                esc.next_due_at = None
                break
            if step == FINAL:
                targets = [t for level in policy.levels for t in level.notify]
                level, round_ = len(policy.levels) + 1, self.schedule(policy).rounds
                queued += await self._page(
                    session, esc, targets, level, round_, now, final=True, cause_message_id=cause_message_id
                )
                esc.final_alert_sent = True
                esc.next_due_at = None
                self._count_level(esc, "all")
                break
            assert not isinstance(step, str)
            level, round_ = step
            targets = list(policy.levels[level - 1].notify)
            queued += await self._page(
                session, esc, targets, level, round_, now, cause_message_id=cause_message_id
            )
            esc.level, esc.round = level, round_
            self._count_level(esc, str(level))
            after = self.next_step(esc, policy)
            esc.next_due_at = self.due_at(esc, policy, after) if after is not None else None
        await session.flush()
        return queued

    async def acknowledge(self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str) -> bool:
        """Stop the climb and give the conversation to `staff_key`; False if it was already taken."""
        if esc.state != EscalationState.OPEN:
            return False
        now = self.clock()
        esc.state = EscalationState.ACKNOWLEDGED
        esc.acknowledged_by = staff_key
        esc.acknowledged_at = now
        esc.next_due_at = None
        await audit.record(session, f"staff:{staff_key}", "escalation_acknowledged", number(esc.id), via=via)
        if self.metrics is not None:
            self.metrics.escalation_ack_seconds.labels(esc.policy).observe(
                (now - esc.opened_at).total_seconds()
            )
        if esc.conversation_id:
            conv = await conversations.get_conversation(session, esc.conversation_id)
            if conv is not None and conv.state != ConversationState.CLOSED:
                conversations.hand_to_staff(conv, staff_key, now)
        name = self._name(staff_key)
        await self._show_status(
            session, esc, lambda tr: "✅ " + tr._("Acknowledged by {who}", who=name), resolved=False
        )
        return True

    async def acknowledge_id(self, session: AsyncSession, esc_id: int, staff_key: str, *, via: str) -> bool:
        """Acknowledge by id under the row lock (the console's button); False if missing or already taken."""
        esc = await repo.lock(session, esc_id)
        return esc is not None and await self.acknowledge(session, esc, staff_key, via=via)

    async def resolve(self, session: AsyncSession, esc: Escalation, staff_key: str, *, via: str) -> bool:
        """Close the escalation and hand the conversation back to the bot."""
        if esc.state == EscalationState.RESOLVED:
            return False
        now = self.clock()
        if esc.state == EscalationState.OPEN and self.metrics is not None:
            self.metrics.escalation_ack_seconds.labels(esc.policy).observe(
                (now - esc.opened_at).total_seconds()
            )
        if esc.acknowledged_at is None:
            esc.acknowledged_by, esc.acknowledged_at = staff_key, now
        esc.state = EscalationState.RESOLVED
        esc.resolved_by = staff_key
        esc.resolved_at = now
        esc.next_due_at = None
        await audit.record(session, f"staff:{staff_key}", "escalation_resolved", number(esc.id), via=via)
        if self.metrics is not None:
            self.metrics.escalation_resolve_seconds.labels(esc.policy).observe(
                (now - esc.opened_at).total_seconds()
            )
        if esc.conversation_id:
            conv = await conversations.get_conversation(session, esc.conversation_id)
            if conv is not None and conv.state == ConversationState.WITH_STAFF:
                conversations.hand_back(conv)
        name = self._name(staff_key)
        await self._show_status(
            session, esc, lambda tr: "✔️ " + tr._("Resolved by {who}", who=name), resolved=True
        )
        return True

    async def _show_status(
        self,
        session: AsyncSession,
        esc: Escalation,
        status_in: Callable[[Translator], str],
        *,
        resolved: bool,
    ) -> None:
        """Edit each delivered alert in place to show who took it, in the language of the staff
        member it was paged to.

        Where alerts cannot be edited, each staff member gets the short status line once (the
        first edit's fallback); an alert not delivered yet cannot be edited, so its staff member
        gets that line as a plain notice instead.
        """
        told: set[str] = set()
        suffix = "resolve" if resolved else "ack"
        for alert, row in await repo.alert_deliveries(session, esc.id):
            tr = self.translator_of(alert.staff_key)
            status = status_in(tr)
            line = alerts.status_line(esc.id, status)
            first = alert.staff_key not in told
            told.add(alert.staff_key)
            if row.provider_message_id:
                out = alerts.edited_alert(
                    esc.id,
                    alert.channel,
                    row.channel_user_id,
                    row.provider_message_id,
                    str(row.payload.get("text", "")),
                    status,
                    resolved=resolved,
                    key=f"esc:{esc.id}:edit:{alert.id}:{suffix}",
                    fallback=line if first else None,
                    tr=tr,
                )
            elif first:
                out = OutboundMessage(
                    channel=Channel(alert.channel),
                    channel_user_id=row.channel_user_id,
                    text=line,
                    idempotency_key=f"esc:{esc.id}:status:{alert.staff_key}:{suffix}",
                )
            else:
                continue
            await outbox.enqueue(session, out, kind="notice")

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
        """A staff answer goes to the client on the client's own channel and into their conversation."""
        if esc.conversation_id is None:
            return None
        conv = await conversations.get_conversation(session, esc.conversation_id)
        if conv is None:
            return None
        if esc.state == EscalationState.OPEN:
            await self.acknowledge(session, esc, staff_key, via="reply")
        return await self.answer_in_conversation(
            session, conv, staff_key, text, attachments, cause_message_id=cause_message_id, esc_id=esc.id
        )

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
        """Queue the answer on the client's channel, store it in their conversation, keep it with staff.

        Also used without an escalation, when staff quote a client message forwarded from a
        conversation someone took over in the console.
        """
        contact = conv.contact
        tag = number(esc_id) if esc_id else f"conversation {conv.id}"
        prefix = f"esc:{esc_id}" if esc_id else f"conv:{conv.id}"
        out = OutboundMessage(
            channel=Channel(contact.channel),
            channel_user_id=contact.channel_user_id,
            text=f"{self._name(staff_key)}: {text}" if text else "",
            attachments=[a for a in attachments if a.stored_path],
            idempotency_key=f"{prefix}:reply:{cause_message_id}",
            # email: answer in the client's own thread (the adapter finds it), tagged with the escalation
            extra={"tag": number(esc_id)} if esc_id else {},
        )
        await outbox.enqueue(
            session, out, conversation_id=conv.id, cause_message_id=cause_message_id, kind="reply"
        )
        if conv.state == ConversationState.CLOSED:
            return conv
        conversations.hand_to_staff(conv, staff_key, self.clock())
        conversations.touch(conv, self.clock())
        await audit.record(session, f"staff:{staff_key}", "staff_reply", tag, conversation=conv.id)
        return conv

    async def put_on_call(
        self, session: AsyncSession, rotation: str, staff_key: str, start: datetime, end: datetime, *, by: str
    ) -> None:
        """A swap from a phone: stored (other processes pick it up) and in force here at once."""
        await repo.add_override(session, rotation, staff_key, start, end, by=by)
        self.rota.live_overrides.append(Override(rotation, staff_key, start, end))
