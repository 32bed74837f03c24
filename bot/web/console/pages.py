"""Console pages from Jinja2 templates: escaped by default, every text in the reader's language.

Autoescaping is on for every template, so client text, names, claim descriptions and file
names are inert whatever they contain; `StrictUndefined` turns a misspelt variable into an
error in the tests instead of an empty spot on a page. `_` and `ngettext` are a translator
for this one request (the staff member's language, or the browser's on the login page), so
they are passed in the context rather than installed once on the environment.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.i18n import Translator
from bot.web.console.formats import when
from bot.web.console.language import browser_language
from bot.web.console.responses import SECURITY_HEADERS, Who

TEMPLATES = web.AppKey("console_templates", jinja2.Environment)


def install(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        app_key=TEMPLATES,
        loader=jinja2.PackageLoader("bot.web.console", "templates"),
        autoescape=jinja2.select_autoescape(("html",), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
        filters={"when": when},
        trim_blocks=True,
        lstrip_blocks=True,
    )


def translator(request: web.Request, who: Who | None) -> Translator:
    return Translator.for_language(who.language if who is not None else browser_language(request))


def render(
    request: web.Request,
    template: str,
    who: Who | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    tr = translator(request, who)
    values: dict[str, Any] = {
        "_": tr._,
        "ngettext": tr.ngettext,
        "lang": tr.language,
        "who": who,
        "active": "",
        "flash": None,
        **context,
    }
    resp = aiohttp_jinja2.render_template(template, request, values, app_key=TEMPLATES, status=status)
    resp.headers.update({**SECURITY_HEADERS, **(headers or {})})
    return resp


def error(request: web.Request, who: Who | None, message: str, status: int, **values: object) -> web.Response:
    """`message` is a msgid (marked with `N_` where it is written), translated on the page."""
    return render(request, "error.html", who, status=status, message=message, values=values)
