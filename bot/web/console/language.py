"""Which language a console page is written in: the staff member's, or before sign-in the browser's."""

from __future__ import annotations

from aiohttp import web

from bot.i18n import SOURCE_LANGUAGE, available_languages, normalise
from storage.models import Staff


def staff_language(staff: Staff) -> str:
    """The language the staff member reads the console in: their staff record's, as for their alerts."""
    return normalise(staff.language)


def browser_language(request: web.Request) -> str:
    """The login page has no staff member yet: the browser's most wanted language we have a catalog for.

    `Accept-Language: zh-CN,zh;q=0.9,en;q=0.8` gives Chinese; anything we cannot offer, English.
    """
    offered = available_languages()
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and q > 0:
            wanted.append((-q, i, tag))
    for _q, _i, tag in sorted(wanted):
        language = normalise(tag)
        if language in offered and (language != SOURCE_LANGUAGE or tag.lower().startswith(SOURCE_LANGUAGE)):
            return language
    return SOURCE_LANGUAGE
