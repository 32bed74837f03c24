"""Console pages and form posts.

Every page but the login form needs a live server-side session (else a redirect to the
login page); every POST needs that session's CSRF token (else 403). Both are auth.py's.
Replies go to the client on the client's own channel through the outbox, in the
transaction that marks the conversation as being with this staff member.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.media import MediaLinks
from bot.i18n import N_
from bot.ids import escalation_number
from bot.web.console import evidence as shots
from bot.web.console import pages, shown
from bot.web.console import reports as report_page
from bot.web.console.auth import Auth
from bot.web.console.formats import path_int, preview
from bot.web.console.responses import Who, field, redirect
from bot.web.proxies import TrustedProxies
from storage.db import Database
from storage.models import Escalation
from storage.repos import console as repo
from storage.repos import conversations, messages

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 4000
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NO_CONVERSATION = N_("No such conversation.")

FLASH = {  # ?done=… after a form post: what the next page says happened
    "sent": N_("Reply queued; it goes out on the client's channel."),
    "acked": N_("Acknowledged."),
    "taken": N_("Someone acknowledged it already."),
}


class Acknowledger(Protocol):
    """The escalation service's acknowledgement by id: the console has no escalation write of its own."""

    async def acknowledge_id(
        self, session: AsyncSession, esc_id: int, staff_key: str, *, via: str
    ) -> bool: ...


class Console:
    def __init__(
        self,
        db: Database,
        links: MediaLinks,
        secret: str,
        wake: Callable[[], None] | None,
        escalation: Acknowledger,
        *,
        sandbox: bool = False,
        proxies: TrustedProxies | None = None,
    ) -> None:
        self.db = db
        self.escalation = escalation
        self.links = links
        self.auth = Auth(db, secret, sandbox=sandbox, proxies=proxies)
        self.wake = wake
        self._static: dict[str, bytes] = {}

    def install(self, app: web.Application) -> None:
        """The console's templates and routes on `app`."""
        pages.install(app)
        app.router.add_routes(self.routes())

    def routes(self) -> list[web.RouteDef]:
        a = self.auth.authed
        return [
            web.get("/console", self.root),
            web.get("/console/", self.root),
            web.get("/console/static/{name}", self.static),
            *self.auth.routes(),
            web.get("/console/conversations", a(self.conversations)),
            web.get("/console/conversations/{id}", a(self.conversation)),
            web.post("/console/conversations/{id}/reply", a(self.reply)),
            web.get("/console/claims", a(self.claims)),
            web.get("/console/claims/{ref}", a(self.claim)),
            web.get("/console/escalations", a(self.escalations)),
            web.post("/console/escalations/{id}/ack", a(self.acknowledge)),
            web.get("/console/reports", a(self.reports)),
        ]

    # ---- public -----------------------------------------------------------------------------------------

    async def root(self, _request: web.Request) -> web.StreamResponse:
        return redirect("/console/conversations", 302)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        ctype = {"console.css": "text/css", "console.js": "text/javascript"}.get(name)
        if ctype is None:
            raise web.HTTPNotFound()
        if name not in self._static:
            self._static[name] = resources.files("bot.web.console").joinpath(name).read_bytes()
        return web.Response(
            body=self._static[name],
            content_type=ctype,
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    # ---- pages ------------------------------------------------------------------------------------------

    def _page(
        self, request: web.Request, template: str, who: Who, active: str, **context: Any
    ) -> web.Response:
        flash = FLASH.get(request.query.get("done", ""))
        return pages.render(request, template, who, active=active, flash=flash, **context)

    def _not_found(self, request: web.Request, who: Who, message: str) -> web.Response:
        return pages.error(request, who, message, 404)

    async def conversations(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            try:
                rows, nxt = await conversations.list_conversations(
                    s, limit=30, cursor=request.query.get("cursor") or None
                )
            except ValueError:
                rows, nxt = [], None
            last = await repo.last_messages(s, [c.id for c in rows])
        previews = {conv.id: preview(last.get(conv.id)) for conv in rows}
        return self._page(
            request, "conversations.html", who, "conversations", rows=rows, previews=previews, cursor=nxt
        )

    async def conversation(self, request: web.Request, who: Who) -> web.StreamResponse:
        conv_id = path_int(request.match_info["id"])
        async with self.db.read() as s:
            conv = await conversations.get_conversation(s, conv_id) if conv_id else None
            if conv is None:
                return self._not_found(request, who, NO_CONVERSATION)
            rows, _ = await messages.list_messages(s, conv.id, limit=100)
            claims = await repo.claims_for_conversation(s, conv.id)
        thread = [(m, [shown.attachment(self.links, a) for a in m.attachments]) for m in reversed(rows)]
        return self._page(
            request,
            "conversation.html",
            who,
            "conversations",
            conv=conv,
            claims=claims,
            thread=thread,
            nonce=secrets.token_urlsafe(18),
            max_chars=MAX_REPLY_CHARS,
        )

    async def reply(self, request: web.Request, who: Who) -> web.StreamResponse:
        conv_id = path_int(request.match_info["id"])
        form = await request.post()
        text = (field(form, "text") or "").strip()
        nonce = field(form, "nonce") or ""
        if not _NONCE.match(nonce):
            return pages.error(request, who, N_("The form is missing its nonce; reload the page."), 400)
        if not text or len(text) > MAX_REPLY_CHARS:
            return pages.error(
                request, who, N_("A reply needs 1 to {max} characters."), 422, max=MAX_REPLY_CHARS
            )
        async with self.db.write() as s:
            result = await repo.staff_reply(s, conv_id, who.key, text, nonce)
        if result is None:
            return self._not_found(request, who, NO_CONVERSATION)
        if result[1] and self.wake:
            self.wake()
        return redirect(f"/console/conversations/{conv_id}?done=sent")

    async def claims(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            rows = await repo.list_claims(s)
        return self._page(request, "claims.html", who, "claims", rows=rows)

    async def claim(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            row = await repo.get_claim(s, request.match_info["ref"][:40])
        if row is None:
            return self._not_found(request, who, N_("No such claim."))
        evidence = [shown.evidence(self.links, e) for e in row.claim.evidence]
        tr = pages.translator(request, who)
        quality = shots.captions(row.claim, tr)  # each photo's shot and quality, what is still missing
        return self._page(
            request,
            "claim.html",
            who,
            "claims",
            row=row,
            evidence=evidence,
            quality=quality,
            missing=shots.missing(row.claim, tr),
        )

    async def escalations(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            rows = await repo.list_escalations(s)
        return self._page(
            request, "escalations.html", who, "escalations", rows=rows, number=escalation_number
        )

    async def acknowledge(self, request: web.Request, who: Who) -> web.StreamResponse:
        esc_id = path_int(request.match_info["id"])
        async with self.db.write() as s:
            exists = await s.get(Escalation, esc_id) if esc_id else None
            if exists is None:
                return self._not_found(request, who, N_("No such escalation."))
            done = await self.escalation.acknowledge_id(s, esc_id, who.key, via="console")
        if done and self.wake:
            self.wake()
        return redirect("/console/escalations?done=" + ("acked" if done else "taken"))

    async def reports(self, request: web.Request, who: Who) -> web.StreamResponse:
        """Response times and claim figures since a date (default: the last 30 days)."""
        async with self.db.read() as s:
            context = await report_page.build(s, request.query.get("since"), pages.translator(request, who))
        status = 400 if context["error"] else 200
        return self._page(request, "reports.html", who, "reports", status=status, **context)
