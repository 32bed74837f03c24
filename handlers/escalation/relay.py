"""A conversation with staff: the client's messages go to a person, not to the bot.

The conversation is `with_staff` from a handoff (then the messages go to everyone paged
so far), from the first staff answer or acknowledgement (then to that person), or from
a reply in the console; until `/close`, or until nobody has written for
`relay_idle_seconds`, when the bot answers again. `staff_since` is refreshed by each
exchange and is the idle timer. Forwarded messages carry `esc:<id>:` or `conv:<id>:` in
their outbox key, so a quoted reply from the staff phone finds its way back.
"""

from __future__ import annotations

from datetime import timedelta

from bot.ids import escalation_number as number
from bot.messages import Channel, OutboundMessage
from bot.states import ConversationState
from handlers.base import Context, Outcome
from handlers.ports import Escalator
from storage.repos import audit, conversations
from storage.repos import escalations as esc_repo


class Relay:
    name = "relay"
    observer = False

    def __init__(self, escalator: Escalator, idle_seconds: float = 7200) -> None:
        self.escalator = escalator
        self.idle = timedelta(seconds=idle_seconds)

    def matches(self, ctx: Context) -> bool:
        return ctx.staff is None and ctx.conversation.state == ConversationState.WITH_STAFF

    async def handle(self, ctx: Context) -> Outcome:
        conv = ctx.conversation
        service = self.escalator
        esc = await esc_repo.active_for_conversation(ctx.session, conv.id)
        now = service.now()
        idle = conv.staff_since is not None and now - conv.staff_since > self.idle
        # Taken over without an escalation (a reply from the console) still counts as with staff.
        orphan = esc is None and not conv.assigned_staff
        if orphan or idle:
            conversations.hand_back(conv)
            await audit.record(ctx.session, "bot", "relay_ended", f"conversation:{conv.id}", idle=idle)
            return Outcome.CONTINUE  # the bot answers this message
        # The staff member who has it, or (nobody yet) everyone paged so far.
        if conv.assigned_staff:
            keys = [conv.assigned_staff]
        else:
            keys = sorted({a.staff_key for a in esc.alerts}) if esc else []
        recipients = [(k, c) for k in keys if (c := service.contact_of(k)) is not None]
        if not recipients:
            conversations.hand_back(conv)
            return Outcome.CONTINUE
        who = ctx.contact.name or ctx.contact.channel_user_id
        prefix = f"esc:{esc.id}" if esc else f"conv:{conv.id}"  # a quoted reply finds its way back by it
        for key, (channel, chat_id) in recipients:
            tr = service.translator_of(key)
            client = ctx.client.name if ctx.client else tr._("unverified")
            tag = number(esc.id) if esc else tr._("conversation {id}", id=conv.id)
            text = f"[{tag} · {who} · {client} · {ctx.contact.channel}]\n{ctx.message.text}".rstrip()
            out = OutboundMessage(
                channel=Channel(channel),
                channel_user_id=chat_id,
                text=text,
                attachments=[a for a in ctx.message.attachments if a.stored_path],
                idempotency_key=f"{prefix}:fwd:{ctx.message_id}:{key}",
                extra={"subject": f"[{tag}] " + tr._("message from {who}", who=who)},
            )
            await ctx.send_to(out, kind="relay")
        conv.staff_since = now
        return Outcome.DONE
