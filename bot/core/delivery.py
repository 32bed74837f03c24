"""What happens to an outbound message after the provider took it: delivery states and closed windows.

Adapters only report (a status callback, a classified SendError); the decisions live
here: delivery states never go backwards (callbacks arrive out of order), a failed
delivery marks its outbox row failed with the reason, and a message refused because
the client's messaging window closed (WhatsApp 24 h) is never silently lost — the
conversation's staff are alerted and, where a template is configured, one template
message is queued to invite the client back. Everything is written through the
outbox in the transaction that learnt of the failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.messages import Channel, OutboundMessage, SendError
from config.settings import WhatsAppSettings
from storage.db import Database
from storage.models import Conversation, Escalation, OutboxRow, Staff
from storage.repos import audit, clients, conversations
from storage.repos import messages as message_repo
from storage.repos import outbox as outbox_repo
from storage.repos import staff as staff_repo

log = logging.getLogger(__name__)

# Later states win; a late "sent" never hides "delivered".
RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
STAFF_ROLE = "sales"
STATUS_RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 0.0)  # seconds between lookups of a not-yet-known provider id


class FailureEscalation(Protocol):
    """What delivery needs of escalation (escalation.service.EscalationService, wired in bot/app.py)."""

    async def on_delivery_failure(self, session: AsyncSession, row: OutboxRow, exc: Exception) -> None: ...

    async def delivery_failed(
        self, session: AsyncSession, conversation_id: int | None, *, note: str = ""
    ) -> Escalation | None: ...


def advance(current: str | None, new: str) -> str:
    return new if RANK.get(new, -1) >= RANK.get(current or "", -1) else (current or new)


class DeliveryTracker:
    def __init__(
        self,
        db: Database,
        whatsapp: WhatsAppSettings,
        *,
        after_commit: Callable[[], None] | None = None,
        escalation: FailureEscalation | None = None,
    ) -> None:
        self.db = db
        self.whatsapp = whatsapp
        self.after_commit = after_commit
        self.escalation = escalation

    async def on_status(
        self, channel: str, provider_id: str, status: str, error_code: int | None, window_closed: bool = False
    ) -> bool:
        """A provider's status report for one outbound message; False if we never sent that id.

        The adapter says whether the error code means the client's messaging window closed
        (provider codes stay in channels/); what follows from it is decided here.

        Twilio can call back before the dispatcher has committed the id the API returned, so an
        unknown id is looked up again for a moment (well inside Twilio's 15 s) before giving up.
        """
        for delay in STATUS_RETRY_DELAYS:
            if await self._apply_status(channel, provider_id, status, error_code, window_closed):
                if self.after_commit is not None:
                    self.after_commit()
                return True
            if delay:
                await asyncio.sleep(delay)
        return False

    async def _apply_status(
        self, channel: str, provider_id: str, status: str, error_code: int | None, closed: bool
    ) -> bool:
        async with self.db.write() as session:
            msg = await message_repo.get_by_provider_id(session, channel, "out", provider_id)
            if msg is None:
                return False
            await message_repo.set_delivery(session, msg.id, advance(msg.delivery, status))
            if status == "failed":
                row = await outbox_repo.for_message(session, msg.id)
                reason = (
                    f"{error_code}: outside the client's messaging window (reported by the provider)"
                    if closed
                    else f"provider reported the message undelivered (error {error_code})"
                )
                if row is not None and row.state != "failed":
                    await outbox_repo.mark_failed(session, row.id, error=reason, count_attempt=False)
                    if closed:
                        await self.window_closed(session, row, reason)
        return True

    async def on_failure(self, session: AsyncSession, row: OutboxRow, exc: SendError) -> None:
        """OutboxDispatcher hook, in the transaction that marked the row failed for good.

        A closed window: a template invites the client back and the assigned staff are told.
        A page that failed: the staff member's next contact (escalation). A reply the client
        never got: a person must reach them another way (an escalation of its own).
        """
        if exc.window_closed:
            await self.window_closed(session, row, exc.reason)
        if self.escalation is None:
            return
        await self.escalation.on_delivery_failure(session, row, exc)
        conversation_id = await self.lost_client_message(session, row)
        if conversation_id is not None:
            await self.escalation.delivery_failed(
                session, conversation_id, note=f"{row.channel}: {exc.reason}"
            )

    async def lost_client_message(self, session: AsyncSession, row: OutboxRow) -> int | None:
        """The conversation of a reply or notice to a client that failed for good; None for staff
        alerts and re-opening templates (their failure must not page anyone again)."""
        if row.kind == "alert" or (row.payload.get("extra") or {}).get("content_sid"):
            return None
        conv = await self._conversation(session, row)
        return conv.id if conv is not None else None

    async def window_closed(self, session: AsyncSession, row: OutboxRow, reason: str) -> None:
        if row.kind == "alert" or (row.payload.get("extra") or {}).get("content_sid"):
            return  # staff alerts and templates do not cascade into more alerts
        conv = await self._conversation(session, row)
        contact = conv.contact if conv is not None else None
        if contact is None:
            contact = await clients.get_contact(session, row.channel, row.channel_user_id)
        name = (contact.name if contact else None) or row.channel_user_id
        template = self._template(row, contact, name)
        if template is not None:
            await outbox_repo.enqueue(
                session,
                template,
                conversation_id=conv.id if conv else None,
                cause_message_id=row.cause_message_id,
                kind="notice",
            )
        recipients = await self._staff_for(session, conv)
        told = []
        for member in recipients:
            contact_point = staff_repo.preferred_contact(member)
            if contact_point is None or contact_point == (row.channel, row.channel_user_id):
                continue
            channel, address = contact_point
            await outbox_repo.enqueue(
                session,
                OutboundMessage(
                    channel=Channel(channel),
                    channel_user_id=address,
                    text=self._alert_text(
                        Translator.for_language(member.language),
                        row,
                        conv,
                        name,
                        reason,
                        template is not None,
                    ),
                    idempotency_key=f"window-closed:{row.id}:{member.key}",
                ),
                cause_message_id=row.cause_message_id,
                kind="alert",
            )
            told.append(member.key)
        await audit.record(
            session,
            "bot",
            "window_closed",
            f"outbox:{row.id}",
            channel=row.channel,
            to=row.channel_user_id,
            staff=told,
            template=template is not None,
        )
        if not told:
            log.warning(
                "window closed for %s and no staff to tell (outbox row %s)", row.channel_user_id, row.id
            )

    async def _conversation(self, session: AsyncSession, row: OutboxRow) -> Conversation | None:
        msg = await message_repo.get_message(session, row.message_id) if row.message_id else None
        if msg is None or msg.conversation_id is None:
            return None
        return await conversations.get_conversation(session, msg.conversation_id)

    async def _staff_for(self, session: AsyncSession, conv: Conversation | None) -> list[Staff]:
        if conv is not None and conv.assigned_staff:
            assigned = await staff_repo.get(session, conv.assigned_staff)
            if assigned is not None and assigned.active:
                return [assigned]
        return await staff_repo.with_role(session, STAFF_ROLE)

    def _template(self, row: OutboxRow, contact: Any, name: str) -> OutboundMessage | None:
        if row.channel != Channel.WHATSAPP or not self.whatsapp.template_content_sid:
            return None
        # One template per closed window: the client's last message dates the window.
        window = contact.last_inbound_at.isoformat() if contact and contact.last_inbound_at else "never"
        sid = self.whatsapp.template_content_sid
        return OutboundMessage(
            channel=Channel.WHATSAPP,
            channel_user_id=row.channel_user_id,
            text=f"(WhatsApp template {sid}, inviting the client to reopen the conversation)",
            idempotency_key=f"window-template:{row.channel_user_id}:{window}",
            extra={"content_sid": sid, "content_variables": {"1": name}},
        )

    @staticmethod
    def _alert_text(
        tr: Translator, row: OutboxRow, conv: Conversation | None, name: str, reason: str, template_sent: bool
    ) -> str:
        where = tr._("conversation {id}", id=conv.id) if conv else tr._("no conversation")
        undelivered = (row.payload.get("text") or "").strip()
        if len(undelivered) > 300:
            undelivered = undelivered[:300] + "…"
        follow = (
            tr._("A template message was sent inviting them to write again; answer once they do.")
            if template_sent
            else tr._("No template is configured: reach them another way.")
        )
        lead = tr._(
            "Not delivered to {name} ({address}) on {channel}, {where}: {reason}.",
            name=name,
            address=row.channel_user_id,
            channel=row.channel,
            where=where,
            reason=reason,
        )
        return f"⚠ {lead}\n{follow}\n— {undelivered}"
