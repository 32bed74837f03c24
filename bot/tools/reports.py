"""`aftersales report quality`: defect statistics per SKU, category and month, as text or as an
HTML page with inline SVG charts (no scripts, no external assets: it opens from a file or an email)."""

from __future__ import annotations

import html
from collections.abc import Mapping

from storage.repos.quality import QualityStats


def _sorted(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def defect_rate(stats: QualityStats, sku: str) -> str:
    ordered = stats.ordered_units.get(sku)
    if not ordered:
        return "-"
    return f"{100 * stats.affected_units.get(sku, 0) / ordered:.2f}%"


def render_text(stats: QualityStats) -> str:
    since = stats.since.date().isoformat() if stats.since else "the beginning"
    lines = [
        f"Claims since {since}: {stats.total} ({stats.excluded} outside the policy), "
        f"{stats.replaced_units} units replaced"
    ]
    lines.append("")
    lines.append(f"{'SKU':<16}{'claims':>8}{'affected':>10}{'ordered':>10}{'rate':>9}")
    for sku, n in _sorted(stats.by_sku):
        lines.append(
            f"{sku:<16}{n:>8}{stats.affected_units.get(sku, 0):>10}{stats.ordered_units.get(sku, 0):>10}"
            f"{defect_rate(stats, sku):>9}"
        )
    for title, counts in (
        ("category", stats.by_category),
        ("month", dict(sorted(stats.by_month.items()))),
        ("resolution", stats.by_resolution),
    ):
        lines.append("")
        lines.append(f"By {title}:")
        items = counts.items() if title == "month" else _sorted(counts)
        lines += [f"  {k:<20}{v:>6}" for k, v in items]
    return "\n".join(lines)


def bar_chart(title: str, items: list[tuple[str, int]], *, width: int = 560) -> str:
    """A horizontal bar chart as inline SVG."""
    if not items:
        return f"<h2>{html.escape(title)}</h2><p>No claims.</p>"
    top = max(v for _, v in items) or 1
    row, label_w = 26, 150
    height = row * len(items) + 10
    bars = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = max(2, int((width - label_w - 50) * value / top))
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" fill="#3b6ea5"><title>'
            f"{html.escape(label)}: {value}</title></rect>"
            f'<text x="{label_w + w + 6}" y="{y + 17}">{value}</text>'
        )
    return (
        f"<h2>{html.escape(title)}</h2>"
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">{"".join(bars)}</svg>'
    )


def render_html(stats: QualityStats) -> str:
    since = stats.since.date().isoformat() if stats.since else "the beginning"
    rows = "".join(
        f"<tr><td>{html.escape(sku)}</td><td>{n}</td><td>{stats.affected_units.get(sku, 0)}</td>"
        f"<td>{stats.ordered_units.get(sku, 0)}</td><td>{defect_rate(stats, sku)}</td></tr>"
        for sku, n in _sorted(stats.by_sku)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quality report since {since}</title>
<style>body{{font-family:sans-serif;max-width:720px;margin:1em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head>
<body>
<h1>Quality report since {since}</h1>
<p>{stats.total} claims, {stats.excluded} outside the policy (used goods, misuse, carrier damage),
{stats.replaced_units} units replaced.</p>
<h2>Per SKU</h2>
<table><tr><th>SKU</th><th>claims</th><th>units affected</th><th>units ordered</th><th>defect rate</th></tr>
{rows}</table>
{bar_chart("Claims per SKU", _sorted(stats.by_sku))}
{bar_chart("Claims per defect category", _sorted(stats.by_category))}
{bar_chart("Claims per month", sorted(stats.by_month.items()))}
{bar_chart("Resolutions", _sorted(stats.by_resolution))}
</body></html>
"""
