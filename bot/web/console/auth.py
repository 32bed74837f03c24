"""Console sign-in, sign-out and the session check every other page goes through.

Order of a sign-in: the login form's CSRF token, then the attempt is counted (per account
and per client address, in the database) and perhaps refused with 429, and only then is the
password checked. Outside the sandbox a password set by `demo seed` never opens a session.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from urllib.parse import quote

from aiohttp import web

from bot.i18n import N_
from bot.web.console import pages, security
from bot.web.console.language import staff_language
from bot.web.console.responses import Handler, Page, Who, field, redirect
from bot.web.console.sessions import SESSION_TTL, Session, Sessions
from bot.web.console.throttle import LoginThrottle
from bot.web.proxies import TrustedProxies
from storage.db import Database
from storage.models import Staff
from storage.repos import audit
from storage.repos import console as repo
from storage.repos import staff as staff_repo

log = logging.getLogger(__name__)

COOKIE = "aftersales_console"
PRE_COOKIE = "aftersales_console_login"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_NEXT = re.compile(r"^/console/[A-Za-z0-9/_.?=&%-]*$")

CSRF_FAILED = N_("Form expired or forged (CSRF). Reload the page.")
LOGIN_CSRF_FAILED = N_("Login form expired (CSRF). Reload the page.")
WRONG = N_("Wrong name or password.")
SIGNED_OUT = N_("Logged out.")


def safe_next(raw: str | None) -> str:
    """Only our own pages: no scheme, no host, no `//`, so a link cannot send staff elsewhere."""
    if raw and _NEXT.match(raw) and "//" not in raw and "/console/login" not in raw:
        return raw
    return "/console/conversations"


class Auth:
    def __init__(
        self, db: Database, secret: str, *, sandbox: bool, proxies: TrustedProxies | None = None
    ) -> None:
        self.db = db
        self.sandbox = sandbox
        self.signer = security.Signer(secret)
        self.sessions = Sessions(db)
        self.throttle = LoginThrottle(db)
        self.proxies = proxies or TrustedProxies([])

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/console/login", self.login_form),
            web.post("/console/login", self.login),
            web.post("/console/logout", self.authed(self.logout)),
        ]

    def _cookie(
        self, request: web.Request, resp: web.StreamResponse, name: str, value: str, age: int
    ) -> None:
        """HttpOnly and SameSite always; Secure when the browser's hop is TLS (as a trusted proxy says)."""
        resp.set_cookie(
            name,
            value,
            path="/console",
            httponly=True,
            samesite="Lax",  # Strict would drop the session when staff follow a link from an alert
            secure=self.proxies.is_https(request),
            max_age=age,
        )

    # ---- the session check ------------------------------------------------------------------------------

    async def current(self, request: web.Request) -> tuple[Who, Session] | None:
        session = await self.sessions.find(request.cookies.get(COOKIE))
        if session is None:
            return None
        async with self.db.read() as s:
            staff = await staff_repo.get(s, session.staff_key)
        if staff is None or not self._may_sign_in(staff):
            return None
        return Who(staff.key, staff.name, session.csrf, staff_language(staff)), session

    def _may_sign_in(self, staff: Staff) -> bool:
        return staff.active and bool(staff.password_hash) and (self.sandbox or not staff.demo_password)

    def authed(self, handler: Page) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            found = await self.current(request)
            if found is None:
                if request.method == "GET":
                    return redirect("/console/login?next=" + quote(request.path_qs, safe="/"), 302)
                return redirect("/console/login")
            who, session = found
            if request.method == "POST":
                form = await request.post()
                if not session.check_csrf(field(form, "csrf")):
                    log.warning("console: CSRF token missing or wrong for %s on %s", who.key, request.path)
                    return pages.error(request, who, CSRF_FAILED, 403)
            return await handler(request, who)

        return wrapper

    # ---- sign-in ----------------------------------------------------------------------------------------

    def _login_response(
        self,
        request: web.Request,
        next_path: str,
        *,
        error: str | None = None,
        flash: str | None = None,
        retry_after: int = 0,
        status: int = 200,
    ) -> web.Response:
        """The form, with a CSRF token bound to a nonce in a cookie: there is no session to bind it to yet."""
        pre = request.cookies.get(PRE_COOKIE, "")
        if not _NONCE.match(pre):
            pre = secrets.token_urlsafe(16)
        resp = pages.render(
            request,
            "login.html",
            None,
            status=status,
            headers={"Retry-After": str(retry_after)} if retry_after else None,
            csrf=self.signer.csrf_token("login:" + pre),
            next_path=next_path,
            error=error,
            flash=flash,
            retry_after=retry_after,
        )
        self._cookie(request, resp, PRE_COOKIE, pre, 3600)
        return resp

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        next_path = safe_next(request.query.get("next"))
        if await self.current(request) is not None:
            return redirect(next_path, 302)
        flash = SIGNED_OUT if request.query.get("done") == "out" else None
        return self._login_response(request, next_path, flash=flash)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        pre = request.cookies.get(PRE_COOKIE, "")
        if not _NONCE.match(pre) or not self.signer.check_csrf("login:" + pre, field(form, "csrf")):
            return pages.error(request, None, LOGIN_CSRF_FAILED, 403)
        typed = (field(form, "username") or "").strip()[:64]
        password = (field(form, "password") or "")[:1024]
        next_path = safe_next(field(form, "next"))
        ip = self.proxies.client_ip(request)
        async with self.db.read() as s:
            # Keys are matched exactly, then lower-cased: phone keyboards capitalise the first letter.
            staff = (
                (await staff_repo.get(s, typed) or await staff_repo.get(s, typed.lower())) if typed else None
            )
        username = staff.key if staff is not None else typed.lower()

        attempt = await self.throttle.reserve(username, ip)
        if attempt.refused:
            async with self.db.write() as s:
                await audit.record(
                    s,
                    "anonymous",
                    "console_login_throttled",
                    repo.login_target(username),
                    ip=ip,
                    by=attempt.refused,
                )
            return self._login_response(request, next_path, retry_after=attempt.retry_after, status=429)

        usable = staff is not None and self._may_sign_in(staff)
        if staff is not None and staff.demo_password and not self.sandbox:
            log.warning(
                "console: %s has the demo password, refused outside the sandbox; "
                "set one with `aftersales staff passwd %s`",
                staff.key,
                staff.key,
            )
        stored = staff.password_hash if usable and staff is not None else None
        long_enough = len(password) >= security.MIN_PASSWORD_LENGTH
        ok = await asyncio.to_thread(security.verify_password, password, stored) and long_enough
        if not ok or staff is None or stored is None:
            await self.throttle.failed(attempt)
            async with self.db.write() as s:
                await audit.record(s, "anonymous", repo.LOGIN_FAILED, repo.login_target(username), ip=ip)
            return self._login_response(request, next_path, error=WRONG, status=401)

        await self.throttle.succeeded(attempt)
        if security.needs_rehash(stored):
            fresh = await asyncio.to_thread(security.hash_password, password)
            async with self.db.write() as s:
                await repo.rehash_password(s, staff.key, stored, fresh)
        session_id = await self.sessions.open(staff.key, ip=ip, replacing=request.cookies.get(COOKIE))
        async with self.db.write() as s:
            await audit.record(s, f"staff:{staff.key}", "console_login", f"staff:{staff.key}", ip=ip)
        resp = redirect(next_path)
        self._cookie(request, resp, COOKIE, session_id, int(SESSION_TTL.total_seconds()))
        resp.del_cookie(PRE_COOKIE, path="/console")
        return resp

    async def logout(self, request: web.Request, who: Who) -> web.StreamResponse:
        await self.sessions.close(request.cookies.get(COOKIE))
        async with self.db.write() as s:
            await audit.record(s, f"staff:{who.key}", "console_logout", f"staff:{who.key}")
        resp = redirect("/console/login?done=out")
        resp.del_cookie(COOKIE, path="/console")
        return resp
