"""Horizontal bar charts as inline SVG, for the report file and the console's report page.

No scripts, no styles, no external assets: the markup opens from a file or an email and passes
the console's Content-Security-Policy (presentation attributes only). Every label is escaped.
With `viewBox`, CSS `max-width: 100%; height: auto` shrinks a chart to a phone's screen.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

Format = Callable[[float], str]
BLUE, ORANGE = "#3b6ea5", "#e08a2c"
ROW, LABEL_W, WIDTH = 26, 150, 560


def _plain(value: float) -> str:
    return f"{value:g}"


def _svg(title: str, height: int, parts: list[str], heading: bool) -> str:
    t = html.escape(title)
    return (
        (f"<h2>{t}</h2>" if heading else "")
        + f'<svg role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">{"".join(parts)}</svg>'
    )


def _bar(y: int, height: int, value: float, top: float, colour: str, label: str, fmt: Format) -> str:
    w = max(2, int((WIDTH - LABEL_W - 80) * value / top))
    return (
        f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{height}" fill="{colour}"><title>'
        f"{html.escape(label)}: {html.escape(fmt(value))}</title></rect>"
        f'<text x="{LABEL_W + w + 6}" y="{y + height - 3}">{html.escape(fmt(value))}</text>'
    )


def _nothing(title: str, empty: str, heading: bool) -> str:
    return (f"<h2>{html.escape(title)}</h2>" if heading else "") + f"<p>{html.escape(empty)}</p>"


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Format = _plain,
    empty: str = "No claims.",
    heading: bool = True,
) -> str:
    """One bar per item, scaled to the largest; `heading=False` when the page writes its own."""
    if not items:
        return _nothing(title, empty, heading)
    top = max(v for _, v in items) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * ROW
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end">{html.escape(label)}</text>'
            + _bar(y + 3, ROW - 8, value, top, BLUE, label, fmt)
        )
    return _svg(title, ROW * len(items) + 10, parts, heading)


def paired_chart(
    title: str,
    rows: Sequence[tuple[str, float | None, float | None]],
    *,
    names: tuple[str, str] = ("p50", "p90"),
    fmt: Format = _plain,
    empty: str = "No data.",
    heading: bool = True,
) -> str:
    """Two bars per row (p50 blue above p90 orange); a row with no values shows a dash."""
    values = [v for _, a, b in rows for v in (a, b) if v is not None]
    if not values:
        return _nothing(title, empty, heading)
    top = max(values) or 1
    row = 2 * ROW
    parts = [
        f'<rect x="{LABEL_W}" y="4" width="10" height="10" fill="{BLUE}"/>'
        f'<text x="{LABEL_W + 14}" y="13">{html.escape(names[0])}</text>'
        f'<rect x="{LABEL_W + 60}" y="4" width="10" height="10" fill="{ORANGE}"/>'
        f'<text x="{LABEL_W + 74}" y="13">{html.escape(names[1])}</text>'
    ]
    for i, (label, first, second) in enumerate(rows):
        y = 22 + i * row
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 27}" text-anchor="end">{html.escape(label)}</text>')
        for j, (value, colour, name) in enumerate(((first, BLUE, names[0]), (second, ORANGE, names[1]))):
            by = y + 3 + j * (ROW - 4)
            if value is None:
                parts.append(f'<text x="{LABEL_W + 4}" y="{by + 15}">–</text>')
            else:
                parts.append(_bar(by, ROW - 8, value, top, colour, f"{label} {name}", fmt))
    return _svg(title, 22 + row * len(rows) + 6, parts, heading)
