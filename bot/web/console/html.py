"""A very small HTML builder whose default is to escape.

Every value that reaches a page goes through `render`, which escapes it unless it is
already `Safe` (markup we built ourselves from escaped parts). Client text, names,
claim descriptions and file names are therefore inert, whatever they contain.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from string import Template
from typing import Any


class Safe(str):
    """Markup built by this module; inserted as is."""


def esc(value: Any) -> Safe:
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def render(template: str, **values: Any) -> Safe:
    """`string.Template` with `$name` placeholders; every value escaped unless Safe."""
    return Safe(Template(template).substitute({k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Safe]) -> Safe:
    return Safe("".join(esc(p) for p in parts))


NAV = (
    ("conversations", "/console/conversations", "Chats", "会话"),
    ("claims", "/console/claims", "Claims", "索赔"),
    ("escalations", "/console/escalations", "Alerts", "升级"),
    ("reports", "/console/reports", "Reports", "报表"),
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>$title · aftersales</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
</head><body>
<header class="top">$nav</header>
<main>$flash$body</main>
</body></html>
"""

NAV_AUTHED = """<nav>$links</nav>
<form method="post" action="/console/logout" class="logout">
<input type="hidden" name="csrf" value="$csrf">
<button type="submit" title="Log out">$who ⎋</button></form>"""


def page(
    title: str,
    body: Safe,
    *,
    active: str = "",
    staff_name: str | None = None,
    csrf: str = "",
    flash: str | None = None,
) -> Safe:
    if staff_name is not None:
        links = join(
            render(
                '<a href="$href" class="$cls">$en <small>$zh</small></a>',
                href=href,
                cls="on" if key == active else "",
                en=en,
                zh=zh,
            )
            for key, href, en, zh in NAV
        )
        nav = render(NAV_AUTHED, links=links, csrf=csrf, who=staff_name)
    else:
        nav = Safe('<span class="brand">aftersales console</span>')
    flash_html = render('<p class="flash" role="status">$f</p>', f=flash) if flash else Safe("")
    return render(PAGE, title=title, nav=nav, flash=flash_html, body=body)
