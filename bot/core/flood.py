"""The per-contact flood limit: beyond `limit` messages in a minute, one notice, then silence.

An autoresponder without the usual auto-reply headers would otherwise answer every
answer of ours, for ever. The count is kept in the database (storage/repos/floods.py),
so it holds across processes sharing one database, and it is taken in the transaction
that handles the message: a message handled twice after a crash is counted once.

A minute is a window that opens with a contact's first message and lasts 60 s; the
message that first goes over the limit gets the notice and opens a "flood" escalation
(staff are paged by the rota's policy for that reason, as for any other escalation; a
flood while the conversation already has an active escalation adds a note to it
rather than paging again). Later messages in the window are stored and marked handled
but run no handler at all — not even the urgency observer: staff already have the
conversation in front of them, and an echoing robot must not page anyone twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.base import Context
from handlers.ports import Escalator, escalate
from storage.repos import floods

WINDOW = timedelta(minutes=1)


class FloodGate:
    def __init__(self, limit: int, escalator: Escalator) -> None:
        self.limit = limit  # 0 or less: no limit
        self.escalator = escalator

    async def admit(self, ctx: Context, at: datetime) -> bool:
        """Count this message; False when the bot must not answer it (the notice is queued here)."""
        if self.limit <= 0 or ctx.staff is not None:
            return True  # our own staff are people, and a relay of theirs must never be dropped
        count = await floods.count_message(ctx.session, ctx.contact.id, at, WINDOW)
        if count <= self.limit:
            return True
        if count == self.limit + 1:
            await ctx.reply(
                ctx._(
                    "You have sent many messages in a short time, so I am pausing my replies for a "
                    "minute. Everything you send is still saved, and a colleague has been told."
                )
            )
            await escalate(
                self.escalator,
                ctx,
                "flood",
                note=f"more than {self.limit} messages within a minute; the bot stopped answering for "
                "the rest of that minute (every message is stored)",
            )
        return False
