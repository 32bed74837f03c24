"""`/note BP-220 <text>`: staff add a prevention note to a SKU from chat.

Notes are shown in the repeat-order brief and in `prior_issues` of the order API.
Only registered staff are obeyed (`ctx.staff`); a client typing /note is ordinary text.
"""

from __future__ import annotations

import re

from handlers.base import Context, Outcome
from storage.repos import audit, orders

COMMAND = re.compile(r"^/note(?:@\w+)?(?:\s+(\S+))?(?:\s+(.+))?$", re.IGNORECASE | re.DOTALL)


class NoteCommand:
    name = "note_command"
    observer = False

    def matches(self, ctx: Context) -> bool:
        return ctx.staff is not None and bool(re.match(r"^/note\b", ctx.text, re.IGNORECASE))

    async def handle(self, ctx: Context) -> Outcome:
        assert ctx.staff is not None
        match = COMMAND.match(ctx.text)
        sku, note = (match.group(1), match.group(2)) if match else (None, None)
        if not sku or not note or not note.strip():
            await ctx.reply(
                ctx._("Usage: /note SKU text — e.g. /note BP-220 use YKK #5 zippers, check pull strength")
            )
            return Outcome.DONE
        row = await orders.add_sku_note(ctx.session, sku, note, by=f"staff:{ctx.staff.key}")
        await audit.record(
            ctx.session, f"staff:{ctx.staff.key}", "sku_note_added", f"sku:{row.sku}", note=row.note
        )
        await ctx.reply(
            ctx._(
                "Prevention note saved for {sku}. It will be in the brief of every new order of {sku}.",
                sku=row.sku,
            )
        )
        return Outcome.DONE
