"""The console's report page: response times and claim figures since a date, for staff on a phone.

Kept apart from views.py (which only routes here) so the page can move to a template on its
own. The sections are the report file's (bot/web/report_html.py); headings are in English with
the Chinese below, as on the rest of the console, once the Chinese catalog has them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.web.console.html import Safe, esc, render
from bot.web.report_html import claims_section, response_section
from storage.models import utcnow
from storage.repos.reports import ClaimReport, EscalationReport, claim_report, escalation_report

# Every heading shown through `label()`, marked here because Babel cannot see calls inside f-strings.
_HEADINGS = (
    N_("Reports"),
    N_("Since"),
    N_("Show"),
    N_("Not a date: {value}. Use YYYY-MM-DD."),
)


DEFAULT_DAYS = 30
_EN, _ZH = Translator.for_language("en"), Translator.for_language("zh")


def label(msgid: str) -> str:
    """English, and the Chinese in small type under it when the catalog has a translation."""
    en, zh = _EN._(msgid), _ZH._(msgid)
    return esc(en) + (render(" <small>$zh</small>", zh=zh) if zh != en else "")


def parse_since(raw: str | None, today: date) -> tuple[datetime, str | None]:
    """The date asked for (midnight UTC), or 30 days back and an error when it is not a date."""
    default = datetime.combine(today - timedelta(days=DEFAULT_DAYS), time.min, tzinfo=UTC)
    if not raw:
        return default, None
    try:
        return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC), None
    except ValueError:
        msgid, value = "Not a date: {value}. Use YYYY-MM-DD.", raw[:40]
        en, zh = _EN._(msgid, value=value), _ZH._(msgid, value=value)
        return default, en if zh == en else f"{en} {zh}"


PAGE = """<h1>$title</h1>
<form method="get" action="/console/reports" class="since">
<label>$since_label <input type="date" name="since" value="$since" required></label>
<button type="submit">$show</button></form>$error
<div class="report">$response$claims</div>"""


def body(since: datetime, escalations: EscalationReport, claims: ClaimReport, error: str | None) -> Safe:
    return render(
        PAGE,
        title=Safe(label("Reports")),
        since_label=Safe(label("Since")),
        since=since.date().isoformat(),
        show=Safe(label("Show")),
        error=render('<p class="error" role="alert">$e</p>', e=error) if error else Safe(""),
        response=Safe(response_section(escalations, label)),
        claims=Safe(claims_section(claims, label)),
    )


async def build(session: AsyncSession, raw_since: str | None, today: date | None = None) -> tuple[Safe, bool]:
    """The page's body, and False when the date asked for was not one (the page says so, 400)."""
    since, error = parse_since(raw_since, today or utcnow().date())
    escalations = await escalation_report(session, since)
    claims = await claim_report(session, since)
    return body(since, escalations, claims, error), error is None
