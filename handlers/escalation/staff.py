"""Staff commands from their phones: acknowledge, answer the client, close, who is on call, swaps.

Only for registered staff (`ctx.staff`): a client typing `/ack` is just text and never
reaches this module. `StaffCommands` matches only its own commands, alert buttons and
replies to our messages, so other engineers' staff commands (`/claim`, `/note`) that
sit beside it are untouched; `StaffFallback` goes last and answers anything else from
staff with a short help.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.i18n import N_
from bot.ids import escalation_number as number
from bot.ids import parse_escalation, tagged_escalation
from bot.states import ConversationState, EscalationState
from handlers.base import Context, Outcome
from handlers.ports import Escalator
from storage.models import Escalation
from storage.repos import conversations
from storage.repos import escalations as esc_repo

COMMAND = re.compile(
    r"^/(ack|r|reply|close|resolve|oncall|mine|override)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL
)
BUTTON = re.compile(r"^esc:(ack|resolve):(\d+)$")
ACK_WORDS = {"ack", "ok ack", "acknowledged", "ok", "收到", "确认", "好的"}
HELP = N_(
    "Staff commands:\n"
    '/ack 42 — take escalation ESC-000042 (or reply "ack" to its alert)\n'
    "/r 42 <text> — answer the client (or reply to the alert; photos too)\n"
    "/close 42 — resolve it and hand the conversation back to the bot\n"
    "/mine — my open escalations · /oncall — who is on call\n"
    "/override <staff> <hours> [rotation] — put someone on call now"
)


def _subject(ctx: Context) -> str:
    return str(ctx.message.extra.get("subject") or "")


class StaffCommands:
    name = "staff"
    observer = False

    def __init__(self, escalator: Escalator) -> None:
        self.escalator = escalator

    def matches(self, ctx: Context) -> bool:
        if ctx.staff is None:
            return False
        text = ctx.text
        if ctx.message.is_button:
            return bool(BUTTON.match(text))
        if COMMAND.match(text):
            return True
        # A reply to one of our messages (alert, forwarded client message): resolved in handle().
        replying = ctx.message.reply_to is not None or tagged_escalation(_subject(ctx)) is not None
        return replying and not text.startswith("/")

    async def handle(self, ctx: Context) -> Outcome:
        service = self.escalator
        if ctx.staff is None:
            return Outcome.CONTINUE
        text = ctx.text
        button = BUTTON.match(text) if ctx.message.is_button else None
        if button:
            esc = await esc_repo.lock(ctx.session, int(button.group(2)))
            if esc is None:
                await ctx.reply(ctx._("That escalation no longer exists."))
            elif button.group(1) == "ack":
                await self._ack(ctx, service, esc, via="button")
            else:
                await self._close(ctx, service, esc, via="button")
            return Outcome.DONE
        command = COMMAND.match(text)
        if command:
            return await self._command(
                ctx, service, command.group(1).lower(), (command.group(2) or "").strip()
            )
        # a reply to an alert or to a forwarded client message
        target = await esc_repo.reply_target(
            ctx.session, str(ctx.message.channel), ctx.message.channel_user_id, ctx.message.reply_to or ""
        )
        if target is not None and target[0] == "conv":
            return await self._answer_conversation(ctx, service, target[1], text)
        esc_id = target[1] if target is not None else None
        if esc_id is None:
            esc_id = tagged_escalation(_subject(ctx))
        if esc_id is None:
            return Outcome.CONTINUE
        esc = await esc_repo.lock(ctx.session, esc_id)
        if esc is None:
            return Outcome.CONTINUE
        if text.lower() in ACK_WORDS and not ctx.message.attachments:
            await self._ack(ctx, service, esc, via="reply")
        else:
            await self._relay(ctx, service, esc, text)
        return Outcome.DONE

    async def _command(self, ctx: Context, service: Escalator, cmd: str, args: str) -> Outcome:
        if cmd == "oncall":
            await ctx.reply(oncall_text(service, ctx))
            return Outcome.DONE
        if cmd == "mine":
            await ctx.reply(await mine_text(ctx))
            return Outcome.DONE
        if cmd == "override":
            await ctx.reply(await override(ctx, service, args))
            return Outcome.DONE
        ref, _, rest = args.partition(" ")
        esc_id = parse_escalation(ref) if ref else None
        if esc_id is None:
            await ctx.reply(
                ctx._("Which escalation? For example /{cmd} 42 or /{cmd} ESC-000042.", cmd=cmd)
                + "\n\n"
                + ctx._(HELP)
            )
            return Outcome.DONE
        esc = await esc_repo.lock(ctx.session, esc_id)
        if esc is None:
            await ctx.reply(ctx._("There is no {escalation}.", escalation=number(esc_id)))
            return Outcome.DONE
        if cmd == "ack":
            await self._ack(ctx, service, esc, via="command")
        elif cmd in {"close", "resolve"}:
            await self._close(ctx, service, esc, via="command")
        else:  # /r, /reply
            if not rest.strip() and not ctx.message.attachments:
                await ctx.reply(ctx._("What should the client get? /r {id} <text>", id=esc_id))
            else:
                await self._relay(ctx, service, esc, rest.strip())
        return Outcome.DONE

    async def _answer_conversation(
        self, ctx: Context, service: Escalator, conv_id: int, text: str
    ) -> Outcome:
        """A quoted reply to a client message forwarded from a conversation taken over without a page."""
        assert ctx.staff is not None
        conv = await conversations.get_conversation(ctx.session, conv_id)
        if conv is None:
            return Outcome.CONTINUE
        if conv.state != ConversationState.WITH_STAFF:
            await ctx.reply(ctx._("That conversation is back with the bot; nothing was sent."))
            return Outcome.DONE
        await service.answer_in_conversation(
            ctx.session,
            conv,
            ctx.staff.key,
            text,
            list(ctx.message.attachments),
            cause_message_id=ctx.message_id,
        )
        return Outcome.DONE

    async def _ack(self, ctx: Context, service: Escalator, esc: Escalation, *, via: str) -> None:
        assert ctx.staff is not None
        if await service.acknowledge(ctx.session, esc, ctx.staff.key, via=via):
            await ctx.reply(
                ctx._(
                    "You have {escalation}. Reply to the alert or /r {id} <text> to answer the client; "
                    "/close {id} when done.",
                    escalation=number(esc.id),
                    id=esc.id,
                )
            )
        elif esc.state == EscalationState.RESOLVED:
            await ctx.reply(
                ctx._(
                    "{escalation} is already resolved (by {who}).",
                    escalation=number(esc.id),
                    who=esc.resolved_by,
                )
            )
        else:
            await ctx.reply(
                ctx._(
                    "{escalation} was already acknowledged by {who}.",
                    escalation=number(esc.id),
                    who=esc.acknowledged_by,
                )
            )

    async def _close(self, ctx: Context, service: Escalator, esc: Escalation, *, via: str) -> None:
        assert ctx.staff is not None
        if await service.resolve(ctx.session, esc, ctx.staff.key, via=via):
            await ctx.reply(
                ctx._("{escalation} resolved; the bot answers the client again.", escalation=number(esc.id))
            )
        else:
            await ctx.reply(ctx._("{escalation} was already resolved.", escalation=number(esc.id)))

    async def _relay(self, ctx: Context, service: Escalator, esc: Escalation, text: str) -> None:
        assert ctx.staff is not None
        if esc.state == EscalationState.RESOLVED:
            await ctx.reply(
                ctx._(
                    "{escalation} is resolved; nothing was sent. The client can write again.",
                    escalation=number(esc.id),
                )
            )
            return
        conv = await service.relay_to_client(
            ctx.session,
            esc,
            ctx.staff.key,
            text,
            list(ctx.message.attachments),
            cause_message_id=ctx.message_id,
        )
        if conv is None:
            await ctx.reply(
                ctx._("{escalation} has no client conversation to answer.", escalation=number(esc.id))
            )


class StaffFallback:
    """Anything else from staff: a short help, never the client menu."""

    name = "staff_fallback"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.staff is not None

    async def handle(self, ctx: Context) -> Outcome:
        await ctx.reply(ctx._(HELP))
        return Outcome.DONE


def oncall_text(service: Escalator, ctx: Context) -> str:
    rota = service.rota
    now = service.now()
    lines = [ctx._("On call now:")]
    for name in rota.rotations:
        key = rota.on_call(name, now)
        span = rota.shift(name, now)
        who = rota.staff[key].name if key else ctx._("NOBODY (coverage gap)")
        if span:
            until = f"{span[1].astimezone(rota.rotations[name].zone):%a %H:%M}"
            lines.append(" " + ctx._("{rotation}: {who} until {until}", rotation=name, who=who, until=until))
        else:
            lines.append(f" {name}: {who}")
    return "\n".join(lines)


async def mine_text(ctx: Context) -> str:
    assert ctx.staff is not None
    rows, _ = await esc_repo.list_escalations(ctx.session, limit=50, staff=ctx.staff.key)
    mine = [e for e in rows if e.state in esc_repo.ACTIVE]
    if not mine:
        return ctx._("You have no open escalations.")
    lines = [ctx._("Your open escalations:")]
    for e in mine:
        lines.append(
            f" {number(e.id)} {e.reason} {e.priority} {e.state} "
            + ctx._("(conversation {id})", id=e.conversation_id)
        )
    return "\n".join(lines)


async def override(ctx: Context, service: Escalator, args: str) -> str:
    usage = ctx._("Usage: /override <staff> <hours> [rotation], e.g. /override anna 4")
    parts = args.split()
    rota = service.rota
    if len(parts) < 2:
        return usage
    key, hours_raw = parts[0].lower(), parts[1]
    rotation = parts[2] if len(parts) > 2 else next(iter(rota.rotations), "")
    if key not in rota.staff:
        return ctx._(
            "Unknown staff {key}. Known: {known}", key=repr(key), known=", ".join(sorted(rota.staff))
        )
    if rotation not in rota.rotations:
        return ctx._(
            "Unknown rotation {rotation}. Known: {known}",
            rotation=repr(rotation),
            known=", ".join(rota.rotations),
        )
    try:
        hours = float(hours_raw)
    except ValueError:
        return usage
    if not 0 < hours <= 24 * 14:
        return ctx._("Hours must be between 0 and 336.")
    assert ctx.staff is not None
    start = service.now()
    end = start + timedelta(hours=hours)
    await service.put_on_call(ctx.session, rotation, key, start, end, by=f"staff:{ctx.staff.key}")
    until = f"{end.astimezone(rota.rotations[rotation].zone):%a %d %b %H:%M %Z}"
    return ctx._(
        "{who} is on call for {rotation} until {until}.",
        who=rota.staff[key].name,
        rotation=rotation,
        until=until,
    )
