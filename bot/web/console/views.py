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
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.media import MediaLinks
from bot.core.media_types import INLINE_TYPES
from bot.ids import escalation_number
from bot.web.console import reports as report_page
from bot.web.console.auth import Auth
from bot.web.console.formats import default_name, path_int, preview, when
from bot.web.console.html import Safe, join, page, render
from bot.web.console.responses import Who, error_page, field, html, redirect
from bot.web.proxies import TrustedProxies
from storage.db import Database
from storage.models import AttachmentRow, Escalation, Message
from storage.repos import console as repo
from storage.repos import conversations, messages

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 4000
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
URGENT = Safe('<span class="badge urgent">urgent 紧急</span> ')

FLASH = {
    "sent": "Reply queued; it goes out on the client's channel. 回复已排队发送。",
    "acked": "Acknowledged. 已确认。",
    "taken": "Someone acknowledged it already. 已被他人确认。",
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
        self, title: str, body: Safe, who: Who, active: str, request: web.Request | None = None
    ) -> web.Response:
        flash = FLASH.get(request.query.get("done", "")) if request is not None else None
        return html(page(title, body, active=active, staff_name=who.name, csrf=who.csrf, flash=flash))

    def _not_found(self, who: Who, what: str) -> web.Response:
        return html(error_page(f"No such {what}.", who), 404)

    async def conversations(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            try:
                rows, nxt = await conversations.list_conversations(
                    s, limit=30, cursor=request.query.get("cursor") or None
                )
            except ValueError:
                rows, nxt = [], None
            last = await repo.last_messages(s, [c.id for c in rows])
        items = []
        for conv in rows:
            contact = conv.contact
            client = contact.client
            newest = last.get(conv.id)
            items.append(
                render(
                    """<li class="$cls"><a href="/console/conversations/$id">
<div class="row"><span class="who">$name</span><span class="meta">$when</span></div>
<div class="row"><span class="meta">$client</span><span>$prio<span class="badge">$channel</span>
<span class="badge $state">$state</span></span></div>
<div class="meta">$preview</div></a></li>""",
                    cls="urgent" if conv.priority == "urgent" else "",
                    id=conv.id,
                    name=contact.name or contact.channel_user_id,
                    when=when(conv.last_message_at),
                    client=f"{client.name if client else 'unverified 未验证'} · {contact.channel_user_id}",
                    prio=URGENT if conv.priority == "urgent" else "",
                    channel=conv.channel,
                    state=conv.state,
                    preview=preview(newest),
                )
            )
        more = (
            render('<p><a class="button" href="/console/conversations?cursor=$c">Older 更早</a></p>', c=nxt)
            if nxt
            else Safe("")
        )
        body = render(
            '<h1>Conversations <small>会话</small></h1><ul class="list">$items</ul>$empty$more',
            items=join(items),
            empty=Safe('<p class="empty">No conversations yet.</p>') if not items else "",
            more=more,
        )
        return self._page("Conversations", body, who, "conversations", request)

    async def conversation(self, request: web.Request, who: Who) -> web.StreamResponse:
        conv_id = path_int(request.match_info["id"])
        async with self.db.read() as s:
            conv = await conversations.get_conversation(s, conv_id) if conv_id else None
            if conv is None:
                return self._not_found(who, "conversation")
            rows, _ = await messages.list_messages(s, conv.id, limit=100)
            claims = await repo.claims_for_conversation(s, conv.id)
        contact = conv.contact
        thread = join(self._message(m) for m in reversed(rows))
        claim_links = join(
            render(
                '<li><a href="/console/claims/$n"><span class="who">$n</span> '
                '<span class="badge">$state</span> <span class="meta">$desc</span></a></li>',
                n=c.number,
                state=c.state,
                desc=c.description[:80],
            )
            for c in claims
        )
        body = render(
            """<h1>$name</h1>
<dl class="facts"><dt>Client 客户</dt><dd>$client</dd><dt>Channel 渠道</dt><dd>$channel · $uid</dd>
<dt>State 状态</dt><dd><span class="badge $state">$state</span> $prio $assigned</dd></dl>
$claims<h2>Messages <small>消息</small></h2>
<div class="thread">$thread</div>
<form method="post" action="/console/conversations/$id/reply" class="reply">
<input type="hidden" name="csrf" value="$csrf"><input type="hidden" name="nonce" value="$nonce">
<textarea name="text" aria-label="Reply to the client" placeholder="Reply on $channel… 回复客户" required
 maxlength="$max"></textarea><button type="submit">Send 发送</button></form>""",
            name=contact.name or contact.channel_user_id,
            client=f"{contact.client.name} ({contact.client.key})" if contact.client else "unverified 未验证",
            channel=conv.channel,
            uid=contact.channel_user_id,
            state=conv.state,
            prio=URGENT if conv.priority == "urgent" else "",
            assigned=f"· {conv.assigned_staff}" if conv.assigned_staff else "",
            claims=render('<h2>Claims <small>索赔</small></h2><ul class="list">$l</ul>', l=claim_links)
            if claims
            else "",
            thread=thread if rows else Safe('<p class="empty">No messages.</p>'),
            id=conv.id,
            csrf=who.csrf,
            nonce=secrets.token_urlsafe(18),
            max=MAX_REPLY_CHARS,
        )
        return self._page(contact.name or "Conversation", body, who, "conversations", request)

    def _media_url(self, sha256: str, filename: str | None) -> str:
        # Relative: the browser fetches it from the console's own origin, whatever public_url says.
        return "/media/" + self.links.token(sha256, filename=filename)

    def _attachment(self, a: AttachmentRow) -> Safe:
        if a.sha256 and a.stored_path:
            url = self._media_url(a.sha256, a.filename or default_name(a.kind, a.mime))
            # Other types (SVG, HTML, …) are downloads at /media; a link, not a broken <img>.
            if a.mime.startswith("image/") and a.mime in INLINE_TYPES:
                return render('<a href="$u"><img src="$u" alt="$alt" loading="lazy"></a>', u=url, alt=a.kind)
            if a.mime in INLINE_TYPES and a.mime.startswith("video/"):
                return render('<video src="$u" controls preload="metadata"></video>', u=url)
            return render('<a href="$u">$name</a>', u=url, name=a.filename or a.kind)
        why = a.error or "pending"
        return render('<p class="meta">[$kind not available: $why]</p>', kind=a.kind, why=why)

    def _message(self, m: Message) -> Safe:
        status = ""
        if m.direction == "out":
            status = render('<span class="badge $d">$d</span>', d=m.delivery or "queued")
        return render(
            '<div class="msg $dir"><p>$text</p>$atts<div class="meta">$when $status</div></div>',
            dir="out" if m.direction == "out" else "in",
            text=m.text,
            atts=join(self._attachment(a) for a in m.attachments),
            when=when(m.created_at),
            status=status,
        )

    async def reply(self, request: web.Request, who: Who) -> web.StreamResponse:
        conv_id = path_int(request.match_info["id"])
        form = await request.post()
        text = (field(form, "text") or "").strip()
        nonce = field(form, "nonce") or ""
        if not _NONCE.match(nonce):
            return html(error_page("The form is missing its nonce; reload the page.", who), 400)
        if not text or len(text) > MAX_REPLY_CHARS:
            return html(error_page(f"A reply needs 1 to {MAX_REPLY_CHARS} characters.", who), 422)
        async with self.db.write() as s:
            result = await repo.staff_reply(s, conv_id, who.key, text, nonce)
        if result is None:
            return self._not_found(who, "conversation")
        if result[1] and self.wake:
            self.wake()
        return redirect(f"/console/conversations/{conv_id}?done=sent")

    async def claims(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            rows = await repo.list_claims(s)
        items = join(
            render(
                """<li><a href="/console/claims/$n"><div class="row"><span class="who">$n</span>
<span class="badge">$state</span></div><div class="row"><span class="meta">$client · $order · $sku</span>
<span class="meta">$when</span></div><div class="meta">$desc</div></a></li>""",
                n=r.claim.number,
                state=r.claim.state,
                client=r.client_key or "unverified",
                order=r.claim.order_number or "no order",
                sku=r.claim.sku or "no SKU",
                when=when(r.claim.created_at),
                desc=r.claim.description[:120],
            )
            for r in rows
        )
        body = render(
            '<h1>Claims <small>索赔</small></h1><ul class="list">$items</ul>$empty',
            items=items,
            empty=Safe('<p class="empty">No claims yet.</p>') if not rows else "",
        )
        return self._page("Claims", body, who, "claims", request)

    async def claim(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            row = await repo.get_claim(s, request.match_info["ref"][:40])
        if row is None:
            return self._not_found(who, "claim")
        c = row.claim
        evidence = join(
            render('<a href="$u"><img src="$u" alt="evidence $mime" loading="lazy"></a>', u=u, mime=e.mime)
            if e.mime.startswith("image/")
            else render('<a href="$u">$mime</a>', u=u, mime=e.mime)
            for e in c.evidence
            for u in [self._media_url(e.sha256, default_name("evidence", e.mime))]
        )
        events = join(
            render(
                '<li><span class="meta">$at · $by</span><br>$from → <b>$to</b> $note</li>',
                at=when(e.at),
                by=e.by,
                **{"from": e.from_state or "—"},
                to=e.to_state,
                note=e.note or "",
            )
            for e in c.events
        )
        conv_link = (
            render('<a href="/console/conversations/$i">open 打开</a>', i=c.conversation_id)
            if c.conversation_id
            else "—"
        )
        body = render(
            """<h1>$n <span class="badge">$state</span></h1>
<dl class="facts"><dt>Client</dt><dd>$client</dd><dt>Order</dt><dd>$order</dd><dt>SKU</dt><dd>$sku</dd>
<dt>Qty</dt><dd>$qty</dd><dt>Unused</dt><dd>$unused</dd><dt>Eligibility</dt><dd>$elig</dd>
<dt>Opened</dt><dd>$when</dd><dt>Chat</dt><dd>$conv</dd></dl>
<h2>Description <small>描述</small></h2><p class="msg">$desc</p>
<h2>Evidence <small>照片</small></h2><div class="evidence">$evidence</div>
<h2>Events <small>记录</small></h2><ol class="events">$events</ol>""",
            n=c.number,
            state=c.state,
            client=row.client_key or "unverified",
            order=c.order_number or "—",
            sku=c.sku or "—",
            qty=c.quantity_affected if c.quantity_affected is not None else "—",
            unused={True: "yes", False: "no", None: "—"}[c.unused],
            elig=c.eligibility,
            when=when(c.created_at),
            conv=conv_link,
            desc=c.description,
            evidence=evidence or Safe('<p class="meta">none</p>'),
            events=events,
        )
        return self._page(c.number, body, who, "claims", request)

    async def escalations(self, request: web.Request, who: Who) -> web.StreamResponse:
        async with self.db.read() as s:
            rows = await repo.list_escalations(s)
        items = join(self._escalation(e, who) for e in rows)
        body = render(
            '<h1>Escalations <small>升级</small></h1><ul class="list">$items</ul>$empty',
            items=items,
            empty=Safe('<p class="empty">Nothing escalated.</p>') if not rows else "",
        )
        return self._page("Escalations", body, who, "escalations", request)

    def _escalation(self, e: Escalation, who: Who) -> Safe:
        ack = Safe("")
        if e.state == "open":
            ack = render(
                """<form method="post" action="/console/escalations/$id/ack">
<input type="hidden" name="csrf" value="$csrf"><button type="submit">Acknowledge 确认</button></form>""",
                id=e.id,
                csrf=who.csrf,
            )
        elif e.acknowledged_by:
            ack = render(
                '<div class="meta">acknowledged by $by at $at</div>',
                by=e.acknowledged_by,
                at=when(e.acknowledged_at),
            )
        conv = (
            render('<a href="/console/conversations/$c">conversation 会话</a>', c=e.conversation_id)
            if e.conversation_id
            else ""
        )
        return render(
            """<li class="$cls" id="esc-$id"><div class="item"><div class="row"><span class="who">$num</span>
<span><span class="badge $state">$state</span></span></div>
<div class="row"><span class="meta">$reason · $prio · level $level · round $round</span>
<span class="meta">$when</span></div><div class="meta">$note</div>
<div class="row">$conv</div>$ack</div></li>""",
            cls="urgent" if e.priority == "urgent" and e.state == "open" else "",
            id=e.id,
            num=escalation_number(e.id),
            state=e.state,
            reason=e.reason,
            prio=e.priority,
            level=e.level,
            round=e.round,
            when=when(e.opened_at),
            note=(e.note or "")[:200],
            conv=conv,
            ack=ack,
        )

    async def acknowledge(self, request: web.Request, who: Who) -> web.StreamResponse:
        esc_id = path_int(request.match_info["id"])
        async with self.db.write() as s:
            exists = await s.get(Escalation, esc_id) if esc_id else None
            if exists is None:
                return self._not_found(who, "escalation")
            done = await self.escalation.acknowledge_id(s, esc_id, who.key, via="console")
        if done and self.wake:
            self.wake()
        return redirect("/console/escalations?done=" + ("acked" if done else "taken"))

    async def reports(self, request: web.Request, who: Who) -> web.StreamResponse:
        """Response times and claim figures since a date (default: the last 30 days)."""
        async with self.db.read() as s:
            body, ok = await report_page.build(s, request.query.get("since"))
        resp = self._page("Reports", body, who, "reports")
        resp.set_status(200 if ok else 400)
        return resp
