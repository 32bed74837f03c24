"""Paging: the schedule of an escalation and the pages of one step, to each person on their channel.

The base of EscalationService (escalation/service.py), which opens, raises, acknowledges and
relays; kept apart so each file reads as one job.

The row is the timer. `next_due_at` says when the next step is due; `advance` pages
every step that is due and moves the row on, in the caller's transaction, together
with the alert rows and outbox rows it writes. Steps are computed from `opened_at`,
so a restart (or a second process) resumes exactly where the row says: a step is
paged once (alert rows are unique per staff/level/round, outbox keys are unique),
and none is skipped because a late tick pages every step that has come due.

`level` is the last level paged (1-based, 0 = nothing yet) and `round` its round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.ids import candidates
from bot.ids import escalation_number as number
from bot.messages import Channel, OutboundMessage
from escalation import alerts
from escalation.policy import Schedule, Step
from escalation.rota import Policy, Rota
from storage.models import Conversation, Escalation, Message, Order, OutboxRow, utcnow
from storage.repos import audit, conversations, outbox
from storage.repos import escalations as repo
from storage.repos import orders as order_repo

log = logging.getLogger(__name__)


class Paging:
    """Who is paged when, and how: the schedule, one step's pages, a failed page's next contact."""

    def __init__(
        self,
        rota: Rota,
        *,
        ack_timeout_seconds: float = 300.0,
        max_rounds: int = 3,
        metrics: Any = None,
        enabled_channels: set[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.rota = rota
        self.ack_timeout_seconds = float(ack_timeout_seconds)
        self.max_rounds = max_rounds
        self.metrics = metrics
        self.enabled_channels = enabled_channels
        self.clock = clock

    def schedule(self, policy: Policy) -> Schedule:
        return Schedule(policy, self.ack_timeout_seconds, self.max_rounds)

    def next_step(self, esc: Escalation, policy: Policy) -> Step | None:
        return self.schedule(policy).next_step(esc.level, esc.round, esc.final_alert_sent)

    def due_at(self, esc: Escalation, policy: Policy, step: Step) -> datetime:
        return self.schedule(policy).due_at(esc.opened_at, step)

    def policy_of(self, esc: Escalation) -> Policy:
        return self.rota.policies.get(esc.policy) or self.rota.policy_for(esc.reason)

    def now(self) -> datetime:
        return self.clock()

    def _count_level(self, esc: Escalation, level: str) -> None:
        if self.metrics is not None:
            self.metrics.escalation_levels.labels(esc.policy, level).inc()

    async def _page(
        self,
        session: AsyncSession,
        esc: Escalation,
        targets: list[str],
        level: int,
        round_: int,
        now: datetime,
        *,
        final: bool = False,
        cause_message_id: int | None = None,
    ) -> int:
        keys = self.rota.resolve_all(targets, now)
        if not keys:
            log.error("%s level %s: nobody to page (coverage gap in %s)", number(esc.id), level, targets)
            await audit.record(
                session, "bot", "escalation_nobody", number(esc.id), level=level, targets=targets
            )
            return 0
        conv, recent, claim, named = await self._alert_context(session, esc)
        queued = 0
        for key in keys:
            member = self.rota.staff.get(key)
            contact = alerts.contact_for(member, self.enabled_channels) if member else None
            if contact is None:
                log.error("%s: staff %s has no reachable contact", number(esc.id), key)
                continue
            channel, chat_id = contact
            alert = await repo.add_alert(session, esc, key, channel, level, round_, now)
            if alert is None:
                continue  # already paged for this step (a retried tick)
            tr = self.translator_of(key)
            orders = [
                tr._("{order} ({status}, ETA {eta})", order=o.number, status=o.status, eta=o.eta)
                if o.eta
                else f"{o.number} ({o.status})"
                for o in named
            ]
            text = alerts.alert_text(
                esc,
                conv,
                recent,
                level=level,
                round_=round_,
                final=final,
                claim_number=claim,
                orders=orders,
                tr=tr,
            )
            out = alerts.alert_message(
                esc, channel, chat_id, text, staff_key=key, level=level, round_=round_, tr=tr
            )
            row = await outbox.enqueue(session, out, kind="alert", cause_message_id=cause_message_id)
            alert.outbox_id = row.id
            queued += 1
            if self.metrics is not None:
                self.metrics.escalation_pages.labels(esc.policy, channel).inc()
        return queued

    async def _alert_context(
        self, session: AsyncSession, esc: Escalation
    ) -> tuple[Conversation | None, list[Message], str | None, list[Order]]:
        """What a page shows besides the reason: the last messages, the claim, the orders they name."""
        conv = (
            await conversations.get_conversation(session, esc.conversation_id)
            if esc.conversation_id
            else None
        )
        recent = await repo.recent_messages(session, conv.id, 5) if conv else []
        claim = await repo.claim_number(session, esc.claim_id)
        named: list[Order] = []
        if conv is not None and conv.contact.client_id is not None:
            order_keys = [k for m in recent if m.direction == "in" for k in candidates(m.text or "")]
            named = await order_repo.of_client(session, conv.contact.client_id, order_keys)
        return conv, recent, claim, named

    async def on_delivery_failure(self, session: AsyncSession, row: OutboxRow, exc: Exception) -> None:
        """Outbox failure hook: a page that could not be delivered goes to the staff member's next contact.

        (A blocked Telegram bot, a closed WhatsApp window.) The alert row then points at the new
        delivery, so a reply on that channel still finds the escalation.
        """
        if row.kind != "alert" or not row.idempotency_key.startswith("esc:"):
            return
        alert = await repo.alert_for_outbox(session, row.id)
        member = self.rota.staff.get(alert.staff_key) if alert else None
        if alert is None or member is None:
            return
        contacts = alerts.contacts_of(member, self.enabled_channels)
        current = (row.channel, row.channel_user_id)
        later = contacts[contacts.index(current) + 1 :] if current in contacts else []
        if not later:
            log.error(
                "%s: page to %s failed on every contact (%s)", row.idempotency_key, alert.staff_key, exc
            )
            await audit.record(session, "bot", "page_undeliverable", row.idempotency_key, error=str(exc))
            return
        channel, chat_id = later[0]
        tr = self.translator_of(alert.staff_key)
        out = OutboundMessage(
            channel=Channel(channel),
            channel_user_id=chat_id,
            text=str(row.payload.get("text", "")),
            buttons=alerts.buttons_for(alert.escalation_id, tr=tr),
            buttons_optional=True,
            idempotency_key=f"{row.idempotency_key}:via:{channel}",
            extra=dict(row.payload.get("extra") or {}),
        )
        new_row = await outbox.enqueue(session, out, kind="alert", cause_message_id=row.cause_message_id)
        alert.channel, alert.outbox_id = channel, new_row.id
        await audit.record(
            session, "bot", "page_rerouted", row.idempotency_key, to=channel, error=str(exc)[:200]
        )

    def _name(self, staff_key: str) -> str:
        member = self.rota.staff.get(staff_key)
        return member.name if member else staff_key

    def translator_of(self, staff_key: str) -> Translator:
        """A staff member's texts (pages, notices, forwarded messages) in the language the rota gives them."""
        member = self.rota.staff.get(staff_key)
        return Translator.for_language(member.language if member else None)

    def contact_of(self, staff_key: str) -> tuple[str, str] | None:
        member = self.rota.staff.get(staff_key)
        return alerts.contact_for(member, self.enabled_channels) if member else None
