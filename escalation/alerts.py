"""What a page looks like on a staff member's phone: who, what, the last messages, how to answer.

Pure formatting: the service decides whom to page and queues what these build.
Every page carries Acknowledge / Resolve buttons and spells the same actions out as
commands, since "reply ack" works everywhere: a channel without buttons leaves them
out (`buttons_optional`), a channel without edits gets the short status line instead.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import ENGLISH, N_, Translator
from bot.ids import escalation_number as number
from bot.messages import Button, Channel, Edit, OutboundMessage
from bot.states import Priority
from escalation.rota import StaffMember
from storage.models import Conversation, Escalation, Message

# Where each staff contact field is reached, in paging preference order.
CONTACT_CHANNELS = (
    ("telegram", "telegram_chat_id"),
    ("whatsapp", "whatsapp"),
    ("email", "email"),
    ("wechat", "wechat"),
)
REASONS = {
    "urgent": N_("URGENT message"),
    "handoff": N_("Client asks for a person"),
    "faq": N_("Question the bot could not answer"),
    "repeat": N_("Client repeating / upset"),
    "handler_failed": N_("Bot failed on a message"),
    "delivery_failed": N_("Message to client could not be delivered"),
    "claim": N_("Claim"),
    "flood": N_("Message flood (an autoresponder?): the bot paused its replies"),
}


def reason_title(reason: str, tr: Translator) -> str:
    title = REASONS.get(reason)
    return tr._(title) if title else reason


def contacts_of(member: StaffMember, enabled: set[str] | None = None) -> list[tuple[str, str]]:
    """Every (channel, id) to page, in the order the rota lists them, on channels that are running."""
    channel_of = {field_name: channel for channel, field_name in CONTACT_CHANNELS}
    out = []
    for field_name in member.order:
        value = getattr(member, field_name)
        channel = channel_of[field_name]
        if value and (enabled is None or channel in enabled):
            out.append((channel, str(value)))
    return out


def contact_for(member: StaffMember, enabled: set[str] | None = None) -> tuple[str, str] | None:
    """(channel, id) to page: the first contact the rota lists whose channel is running."""
    found = contacts_of(member, enabled)
    return found[0] if found else None


def buttons_for(esc_id: int, acknowledged: bool = False, tr: Translator = ENGLISH) -> list[Button]:
    resolve = Button(tr._("Resolve"), f"esc:resolve:{esc_id}")
    if acknowledged:
        return [resolve]
    return [Button(tr._("Acknowledge"), f"esc:ack:{esc_id}"), resolve]


def alert_text(
    esc: Escalation,
    conv: Conversation | None,
    recent: list[Message],
    *,
    level: int,
    round_: int,
    final: bool,
    claim_number: str | None = None,
    orders: list[str] | None = None,
    tr: Translator = ENGLISH,
) -> str:
    head = "🚨" if esc.priority == Priority.URGENT else "🔔"
    title = reason_title(esc.reason, tr)
    lines = [f"{head} {number(esc.id)} · {title} · " + tr._("priority {priority}", priority=esc.priority)]
    if final:
        lines.append(
            tr._("Nobody has acknowledged after every level and round: alerting everyone in the policy.")
        )
    else:
        lines.append(
            tr._(
                "Level {level}, round {round} ({policy} policy)", level=level, round=round_, policy=esc.policy
            )
        )
    if conv is not None:
        contact = conv.contact
        client = contact.client.name if contact.client else tr._("unverified contact")
        who = f"{contact.name} · " if contact.name else ""
        reached = f"{who}{client} · {contact.channel} {contact.channel_user_id}"
        lines.append(tr._("Client: {client}", client=reached))
    if orders:
        lines.append(tr._("Order: {orders}", orders=", ".join(orders)))
    if claim_number:
        lines.append(tr._("Claim: {claim}", claim=claim_number))
    if esc.note:
        lines.append(tr._("Note: {note}", note=esc.note[:300]))
    if recent:
        lines.append(tr._("Last messages:"))
        for m in recent:
            arrow = "›" if m.direction == "in" else "‹"
            text = (m.text or tr._("[attachment]")).replace("\n", " ")
            lines.append(f" {arrow} {text[:200]}")
    n = esc.id
    lines.append(
        tr._("Answer: reply to this message (text or photo) or /r {id} <text>.", id=n)
        + " "
        + tr._('reply "ack" or /ack {id} to take it; /close {id} when done.', id=n)
    )
    return "\n".join(lines)


def alert_message(
    esc: Escalation,
    channel: str,
    chat_id: str,
    text: str,
    *,
    staff_key: str,
    level: int,
    round_: int,
    tr: Translator = ENGLISH,
) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel(channel),
        channel_user_id=chat_id,
        text=text,
        buttons=buttons_for(esc.id, tr=tr),
        buttons_optional=True,  # the text says "ack" / /close: no numbered lines needed
        # opened_at changes when an escalation is raised to urgent, so the new climb's pages are new messages
        idempotency_key=f"esc:{esc.id}:alert:{esc.opened_at:%Y%m%d%H%M%S%f}:r{round_}:l{level}:{staff_key}",
        extra={"subject": f"{reason_title(esc.reason, tr)} [{number(esc.id)}]", "tag": number(esc.id)},
    )


def edited_alert(
    esc_id: int,
    channel: str,
    chat_id: str,
    provider_message_id: str,
    original: str,
    status: str,
    *,
    resolved: bool,
    key: str,
    fallback: str | None,
    tr: Translator = ENGLISH,
) -> OutboundMessage:
    """The alert rewritten in place to show who took it (buttons shrink accordingly).

    Where alerts cannot be edited, `fallback` (the short status line) goes as a new message,
    or nothing when it is None (the staff member was told already).
    """
    return OutboundMessage(
        channel=Channel(channel),
        channel_user_id=chat_id,
        text=f"{original}\n\n{status}",
        buttons=[] if resolved else buttons_for(esc_id, acknowledged=True, tr=tr),
        buttons_optional=True,
        idempotency_key=key,
        edit=Edit(provider_message_id, fallback),
    )


def status_line(esc_id: int, status: str) -> str:
    return f"{number(esc_id)}: {status}"


def local_time(at: datetime, zone: str | None) -> str:
    tz = ZoneInfo(zone) if zone else None
    value = at.astimezone(tz) if tz else at
    return value.strftime("%a %d %b %H:%M %Z")
