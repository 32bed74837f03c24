"""The console's report page: response times and claim figures since a date, for staff on a phone.

Kept apart from views.py (which only routes here). The sections are the report file's
(bot/web/report_html.py), which writes escaped HTML; here they are labelled in the reader's
language and handed to templates/reports.html as Markup, like the rest of the console.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.web.report_html import claims_section, response_section
from storage.models import utcnow
from storage.repos.reports import claim_report, escalation_report

DEFAULT_DAYS = 30
NOT_A_DATE = N_("Not a date: {value}. Use YYYY-MM-DD.")


def parse_since(raw: str | None, today: date) -> tuple[datetime, str | None]:
    """The date asked for (midnight UTC), or 30 days back and the bad value when it is not a date."""
    default = datetime.combine(today - timedelta(days=DEFAULT_DAYS), time.min, tzinfo=UTC)
    if not raw:
        return default, None
    try:
        return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC), None
    except ValueError:
        return default, raw[:40]


async def build(
    session: AsyncSession, raw_since: str | None, tr: Translator, today: date | None = None
) -> dict[str, Any]:
    """The template's context; `error` is the msgid of what was wrong with the date (the page is a 400)."""
    since, bad = parse_since(raw_since, today or utcnow().date())
    escalations = await escalation_report(session, since)
    claims = await claim_report(session, since)

    def label(msgid: str) -> str:
        return html.escape(tr._(msgid))

    return {
        "since": since.date().isoformat(),
        "error": NOT_A_DATE if bad is not None else None,
        "bad_value": bad or "",
        # report_html escapes every value and label it writes
        "response": Markup(response_section(escalations, label)),
        "claims": Markup(claims_section(claims, label)),
    }
