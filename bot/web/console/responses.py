"""What every console handler answers with: security headers on every page, the signed-in person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.i18n import SOURCE_LANGUAGE

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Who:
    key: str
    name: str
    csrf: str
    language: str = SOURCE_LANGUAGE


Page = Callable[[web.Request, Who], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def redirect(location: str, status: int = 303) -> web.Response:
    return web.Response(status=status, headers={**SECURITY_HEADERS, "Location": location})


def field(form: object, name: str) -> str | None:
    value = form.get(name) if hasattr(form, "get") else None
    return value if isinstance(value, str) else None
