"""`aftersales report quality`: defect statistics per SKU, category and month, response times of
escalations and claim cycle times, as text or as an HTML page with inline SVG charts (no scripts,
no external assets: it opens from a file or an email)."""

from __future__ import annotations

import html
from collections.abc import Mapping

from bot.web.charts import bar_chart
from bot.web.report_html import claims_section, days, duration, per_thousand, response_section
from storage.repos.quality import QualityStats
from storage.repos.reports import ClaimReport, EscalationReport, ResponseTimes


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


def _times_row(name: str, t: ResponseTimes) -> str:
    spans = (t.mtta_seconds.p50, t.mtta_seconds.p90, t.mttr_seconds.p50, t.mttr_seconds.p90)
    return f"{name:<16}{t.count:>7}{t.acknowledged:>7}{t.resolved:>9}" + "".join(
        f"{duration(v):>10}" for v in spans
    )


def render_response_text(escalations: EscalationReport, claims: ClaimReport) -> str:
    """The contract's figures: MTTA/MTTR p50/p90 by reason, cycle days, claims per unit shipped."""
    since = escalations.since.date().isoformat() if escalations.since else "the beginning"
    lines = [f"Response times since {since} (nearest-rank percentiles)", ""]
    lines.append(
        f"{'reason':<16}{'opened':>7}{'acked':>7}{'resolved':>9}"
        f"{'MTTA p50':>10}{'MTTA p90':>10}{'MTTR p50':>10}{'MTTR p90':>10}"
    )
    lines.append(_times_row("all", escalations.total))
    lines += [_times_row(reason, t) for reason, t in escalations.by_reason.items()]
    cycle = claims.cycle_days
    lines += [
        "",
        f"Claim cycle time (opened to closed): p50 {days(cycle.p50)}, p90 {days(cycle.p90)} "
        f"({claims.closed} of {claims.count} closed)",
        "Claims by state: " + ", ".join(f"{k} {v}" for k, v in claims.by_state.items()),
        "",
        f"{'SKU':<16}{'claims':>8}{'shipped':>10}{'per 1,000 shipped':>19}",
    ]
    lines += [
        f"{sku:<16}{d.claims:>8}{d.units_shipped:>10}{per_thousand(d.rate):>19}"
        for sku, d in claims.by_sku.items()
    ]
    return "\n".join(lines)


def render_html(
    stats: QualityStats, escalations: EscalationReport | None = None, claims: ClaimReport | None = None
) -> str:
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
td:first-child,th:first-child{{text-align:left}}svg{{max-width:100%;height:auto}}</style></head>
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
{response_section(escalations) if escalations else ""}
{claims_section(claims, categories=False) if claims else ""}
</body></html>
"""
