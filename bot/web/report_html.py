"""The response-time and claim sections of a report page, shared by the console and the report file.

One renderer for both, so staff see the same figures on the phone as in the file they mail.
Texts go through a `Label` (msgid → escaped HTML): the report file passes English, the console
its bilingual headings. Values are escaped here; the charts escape their own labels.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from bot.i18n import N_, Translator
from bot.web.charts import bar_chart, paired_chart
from storage.repos.reports import ClaimReport, EscalationReport, ResponseTimes

# Every heading shown through `label()`, marked here because Babel cannot see calls inside f-strings.
_HEADINGS = (
    N_("All"),
    N_("No escalations."),
    N_("Response times"),
    N_("MTTA: time from an escalation opened to its acknowledgement; MTTR: to its resolution."),
    N_("Time to acknowledge, per reason"),
    N_("Time to resolve, per reason"),
    N_("No claims."),
    N_("Claims"),
    N_("Claims opened"),
    N_("closed"),
    N_("cycle time (opened to closed)"),
    N_("SKU"),
    N_("Units shipped"),
    N_("Claims per 1,000 units shipped"),
    N_("Claims by state"),
    N_("Claims by category"),
)


Label = Callable[[str], str]
_EN = Translator.for_language("en")


def english(msgid: str) -> str:
    return html.escape(_EN._(msgid))


def duration(seconds: float | None) -> str:
    """120 → "2 min", 7200 → "2 h": the unit a person would say."""
    if seconds is None:
        return "–"
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{round(seconds / size, 1):g} {unit}"
    return f"{round(seconds / 86400, 1):g} d"


def days(value: float | None) -> str:
    return "–" if value is None else f"{round(value, 2):g} d"


def per_thousand(rate: float | None) -> str:
    return "–" if rate is None else _two(rate * 1000)


def _two(value: float) -> str:
    return f"{value:.2f}"


def _chart(heading: str, empty: str, has_data: bool, chart: Callable[[], str]) -> str:
    """A heading and its chart, or the heading and a line saying there is nothing to draw."""
    return f"<h3>{heading}</h3>" + (chart() if has_data else f'<p class="empty">{empty}</p>')


def _row(label: str, t: ResponseTimes) -> str:
    cells = [
        str(t.count),
        str(t.acknowledged),
        str(t.resolved),
        duration(t.mtta_seconds.p50),
        duration(t.mtta_seconds.p90),
        duration(t.mttr_seconds.p50),
        duration(t.mttr_seconds.p90),
    ]
    return f"<tr><td>{label}</td>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def response_section(report: EscalationReport, label: Label = english) -> str:
    heads = [N_("Reason"), N_("Opened"), N_("Acknowledged"), N_("Resolved")]
    heads += [N_("MTTA p50"), N_("MTTA p90"), N_("MTTR p50"), N_("MTTR p90")]
    rows = [_row(label("All"), report.total)]
    rows += [_row(html.escape(reason), t) for reason, t in report.by_reason.items()]
    acks = [(r, t.mtta_seconds.p50, t.mtta_seconds.p90) for r, t in report.by_reason.items()]
    fixes = [(r, t.mttr_seconds.p50, t.mttr_seconds.p90) for r, t in report.by_reason.items()]
    none, measured = label("No escalations."), report.total.acknowledged > 0
    return (
        f'<section id="response-times"><h2>{label("Response times")}</h2>'
        f"<p>{label('MTTA: time from an escalation opened to its acknowledgement; MTTR: to its resolution.')}"
        "</p><table><tr>"
        + "".join(f"<th>{label(h)}</th>" for h in heads)
        + "</tr>"
        + "".join(rows)
        + "</table>"
        + _chart(
            label("Time to acknowledge, per reason"),
            none,
            measured,
            lambda: paired_chart("Time to acknowledge, per reason", acks, fmt=duration, heading=False),
        )
        + _chart(
            label("Time to resolve, per reason"),
            none,
            report.total.resolved > 0,
            lambda: paired_chart("Time to resolve, per reason", fixes, fmt=duration, heading=False),
        )
        + "</section>"
    )


def claims_section(report: ClaimReport, label: Label = english, *, categories: bool = True) -> str:
    """`categories=False` where the page already charts the claims per category."""
    cycle = report.cycle_days
    skus = "".join(
        f"<tr><td>{html.escape(sku)}</td><td>{d.claims}</td><td>{d.units_shipped}</td>"
        f"<td>{per_thousand(d.rate)}</td></tr>"
        for sku, d in report.by_sku.items()
    )
    rates = [(sku, rate * 1000) for sku, rate in report.defect_rate_by_sku.items()]
    none = label("No claims.")
    return (
        f'<section id="claim-figures"><h2>{label("Claims")}</h2>'
        f"<p>{label('Claims opened')}: {report.count} · {label('closed')}: {report.closed} · "
        f"{label('cycle time (opened to closed)')}: p50 {days(cycle.p50)}, p90 {days(cycle.p90)}</p>"
        f"<table><tr><th>{label('SKU')}</th><th>{label('Claims')}</th><th>{label('Units shipped')}</th>"
        f"<th>{label('Claims per 1,000 units shipped')}</th></tr>{skus}</table>"
        + _chart(
            label("Claims per 1,000 units shipped"),
            none,
            bool(rates),
            lambda: bar_chart("Claims per 1,000 units shipped", rates, fmt=_two, heading=False),
        )
        + _chart(
            label("Claims by state"),
            none,
            bool(report.by_state),
            lambda: bar_chart("Claims by state", list(report.by_state.items()), heading=False),
        )
        + (
            _chart(
                label("Claims by category"),
                none,
                bool(report.by_category),
                lambda: bar_chart("Claims by category", list(report.by_category.items()), heading=False),
            )
            if categories
            else ""
        )
        + "</section>"
    )
