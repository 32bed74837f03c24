"""The handler contract: `matches` and `handle`, stopping by returning an Outcome.

Handlers see the normalised message, the contact/conversation rows, the session of
the transaction they run in, and `reply()`; never a provider. What they write and
every reply they queue commit together with the message being marked handled.
Collaborators (the escalation service, the FAQ, the media folder) are not in the
context: each handler receives the ones it needs through its constructor, typed,
in the composition root (bot/app.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.messages import Attachment, Button, InboundMessage, OutboundMessage
from storage.models import Client, Contact, Conversation, Staff, utcnow
from storage.repos import conversations, outbox


class Outcome(Enum):
    DONE = "done"  # this handler owned the turn; stop (from an observer: nothing else runs)
    CONTINUE = "continue"  # not mine after all (or an observer): let the next handler look
    # An observer answered the message itself (urgent notice, a colleague called in): the
    # responders still look, but the catch-all fallback ("did not understand", menu) does not.
    HANDLED = "handled"


class Handler(Protocol):
    name: str
    observer: bool  # observers run first; they end the turn only by returning DONE

    def matches(self, ctx: Context) -> bool: ...

    async def handle(self, ctx: Context) -> Outcome: ...


@dataclass
class Context:
    session: AsyncSession
    message: InboundMessage
    message_id: int
    contact: Contact
    client: Client | None
    conversation: Conversation
    language: str
    staff: Staff | None = None  # set when the sender is registered staff: only then are commands obeyed
    now: datetime = field(default_factory=utcnow)
    replies: list[OutboundMessage] = field(default_factory=list)
    handled: bool = False  # an observer answered it (Outcome.HANDLED): no fallback
    conversation_started: bool = False  # this message opened the conversation: it has no earlier ones
    on_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.text.strip()

    @property
    def is_verified(self) -> bool:
        """A contact linked to a client may see that client's orders; nobody else sees any."""
        return self.client is not None

    @property
    def translator(self) -> Translator:
        """The reader's texts: staff read their own language, a client the conversation's."""
        if self.staff is not None:
            return Translator.for_language(self.staff.language)
        return Translator.for_language(self.language)

    def _(self, msgid: str, /, **values: object) -> str:
        return self.translator._(msgid, **values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self.translator.ngettext(singular, plural, n, **values)

    async def reply(
        self,
        text: str = "",
        *,
        buttons: list[Button] | None = None,
        attachments: list[Attachment] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> OutboundMessage:
        """Queue a reply to the client on the channel they wrote from (outbox, same transaction)."""
        out = OutboundMessage(
            channel=self.message.channel,
            channel_user_id=self.message.channel_user_id,
            text=text,
            buttons=list(buttons or []),
            attachments=list(attachments or []),
            idempotency_key=f"reply:{self.message_id}:{len(self.replies)}",
            # What the channel needs to route an answer back (a Telegram business connection).
            extra={**(self.message.extra.get("reply_extra") or {}), **(extra or {})},
        )
        await outbox.enqueue(
            self.session, out, conversation_id=self.conversation.id, cause_message_id=self.message_id
        )
        self.replies.append(out)
        return out

    async def send_to(
        self, out: OutboundMessage, *, kind: str = "alert", conversation_id: int | None = None
    ) -> None:
        """Queue a message to someone else (staff alerts, relays); caller sets the idempotency key."""
        await outbox.enqueue(
            self.session, out, conversation_id=conversation_id, cause_message_id=self.message_id, kind=kind
        )

    # ---- dialogs: a handler that needs more turns owns the conversation until it ends ----

    def start_dialog(
        self, name: str, state: dict[str, Any] | None = None, ttl: timedelta = timedelta(minutes=30)
    ) -> None:
        conversations.set_dialog(self.conversation, name, state, self.now + ttl)

    def end_dialog(self) -> None:
        conversations.set_dialog(self.conversation, None, None, None)

    @property
    def dialog_state(self) -> dict[str, Any]:
        return dict(self.conversation.dialog_state or {})

    def in_dialog(self, name: str) -> bool:
        conv = self.conversation
        return conv.dialog == name and (conv.dialog_expires_at is None or conv.dialog_expires_at > self.now)
