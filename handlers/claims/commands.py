"""Staff run claims from their phones: `/claim 17 qc pass <note>` and friends.

Only registered staff (ctx.staff) get here; the same text from a client is client
text. Every action goes through claim_workflow, the same path as the JSON API, so
the rules, the audit trail and the client's notices are identical.
"""

from __future__ import annotations

import re

from bot.i18n import ENGLISH, N_, Translator
from bot.states import ClaimState
from handlers.base import Context, Outcome
from handlers.claims import workflow as wf
from storage.models import Claim, utcnow
from storage.repos import claims as repo

COMMAND = re.compile(r"^/claim(?:@\w+)?(?=\s|$)\s*(\S+)?\s*(.*)$", re.IGNORECASE | re.DOTALL)
USAGE = N_(
    "Usage: /claim <n> [qc pass|fail <note> | resp factory|client|carrier | replace <qty> | "
    "follow_up <note> | reject <reason> | info <question> | review | close]; /claim alone lists open claims."
)
OPEN_STATES = {s for s in wf.STATES if s != ClaimState.CLOSED}


def parse_action(rest: str, tr: Translator = ENGLISH) -> tuple[str, dict[str, object]] | str:
    """(action, arguments) for the workflow, or an error message for the staff member."""
    words = rest.split(maxsplit=1)
    if not words:
        return "summary", {}
    verb, tail = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
    if verb == "qc":
        parts = tail.split(maxsplit=1)
        result = parts[0].lower() if parts else ""
        if result not in {"pass", "fail"}:
            return tr._("qc needs pass or fail: /claim <n> qc pass|fail <note>")
        return f"qc_{result}", {"note": parts[1] if len(parts) > 1 else ""}
    if verb in {"resp", "responsibility"}:
        parts = tail.split(maxsplit=1)
        who = parts[0].lower() if parts else ""
        if who not in wf.RESPONSIBILITIES:
            return tr._("resp needs factory, client or carrier: /claim <n> resp factory|client|carrier")
        return "resp", {"responsibility": who, "note": parts[1] if len(parts) > 1 else ""}
    if verb in {"replace", "replacement"}:
        parts = tail.split(maxsplit=1)
        if not parts or not parts[0].isdigit():
            return tr._("replace needs a quantity: /claim <n> replace <qty>")
        return "replace", {"qty": int(parts[0]), "note": parts[1] if len(parts) > 1 else ""}
    if verb in {"follow_up", "follow-up", "followup"}:
        return "follow_up", {"note": tail}
    if verb in {"reject", "info", "review", "close"}:
        return verb, {"note": tail}
    return tr._("unknown action {action}.", action=repr(verb)) + " " + tr._(USAGE)


class ClaimCommands:
    name = "claim_commands"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.staff is not None and bool(COMMAND.match(ctx.text))

    async def handle(self, ctx: Context) -> Outcome:
        assert ctx.staff is not None
        m = COMMAND.match(ctx.text)
        assert m is not None
        ref, rest = m.group(1), m.group(2)
        if not ref:
            await ctx.reply(await self._open_claims(ctx))
            return Outcome.DONE
        claim = await repo.find(ctx.session, ref, lock=True)
        if claim is None:
            await ctx.reply(ctx._("No claim {claim}.", claim=ref) + " " + ctx._(USAGE))
            return Outcome.DONE
        parsed = parse_action(rest, ctx.translator)
        if isinstance(parsed, str):
            await ctx.reply(parsed)
            return Outcome.DONE
        action, args = parsed
        if action == "summary":
            await ctx.reply(await self._summary(ctx, claim))
            return Outcome.DONE
        result = await wf.transition(
            ctx.session,
            claim,
            action,
            by=f"staff:{ctx.staff.key}",
            note=str(args.get("note") or ""),
            qty=args.get("qty"),  # type: ignore[arg-type]
            responsibility=args.get("responsibility"),  # type: ignore[arg-type]
            now=ctx.now,
            cause_message_id=ctx.message_id,
            tr=ctx.translator,
        )
        if not result.ok:
            await ctx.reply(ctx._("Refused: {reason}", reason=result.message))
            return Outcome.DONE
        nxt = wf.allowed_commands(result.claim)
        await ctx.reply(
            result.message + ("\n" + ctx._("Next: {commands}", commands=" | ".join(nxt)) if nxt else "")
        )
        return Outcome.DONE

    async def _summary(self, ctx: Context, claim: Claim) -> str:
        client = await repo.client_of(ctx.session, claim)
        contact = await repo.contact_of(ctx.session, claim)
        lines = [
            wf.staff_summary(
                claim,
                client_name=f"{client.name} ({client.key})" if client else None,
                channel=contact.channel if contact else None,
                evidence_count=len(claim.evidence),
                tr=ctx.translator,
            ),
            ctx._("History:"),
        ]
        for ev in claim.events[-8:]:
            step = ev.to_state if ev.from_state != ev.to_state else ctx._("note")
            when = f"{ev.at:%m-%d %H:%M}"
            lines.append(
                f"- {when} "
                + ctx._("{step} by {who}", step=step, who=ev.by)
                + (f": {ev.note}" if ev.note else "")
            )
        cmds = wf.allowed_commands(claim)
        lines.append(
            ctx._("Act: {commands}", commands=" | ".join(cmds) if cmds else ctx._("nothing (closed)"))
        )
        return "\n".join(lines)

    async def _open_claims(self, ctx: Context) -> str:
        rows, _ = await repo.list_claims(ctx.session, limit=20)
        rows = [c for c in rows if c.state in OPEN_STATES]
        if not rows:
            return ctx._("No open claims.")
        now = utcnow()
        out = [ctx._("Open claims (newest first):")]
        for c in rows:
            hours = int((now - c.created_at).total_seconds() // 3600)
            out.append(
                f"{wf.short(c)}. {c.number} {c.state} · {c.order_number or '?'} · {c.sku or '?'} · {hours}h"
            )
        return "\n".join(out)
