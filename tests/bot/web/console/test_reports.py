"""The console's report page: the same figures as the API, behind the staff login, escaped, phone-sized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage.models import Client
from storage.repos import claims as claims_repo
from tests.bot.web.console.test_views import add_staff, login
from tests.conftest import BotHarness
from tests.report_fixtures import SINCE, T0, seed_claims, seed_escalations


async def test_report_page_shows_response_times_and_claim_figures(tg_bot: BotHarness) -> None:
    h = tg_bot
    await seed_claims(h.db)
    await seed_escalations(h.db)
    async with h.db.write() as s:  # a category nobody typed on purpose, to see it is escaped
        acme = (await s.execute(select(Client).where(Client.key == "acme"))).scalar_one()
        await claims_repo.create(
            s, now=T0, by="test", client_id=acme.id, category="<img src=x onerror=alert(1)>"
        )
    await add_staff(h)

    anonymous = await h.client.get(f"/console/reports?since={SINCE}", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/console/login")
    assert (await login(h)).status == 303

    resp = await h.client.get(f"/console/reports?since={SINCE}")
    assert resp.status == 200
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    page = await resp.text()
    assert '<a href="/console/reports" class="on">Reports' in page  # in the nav, and the current page
    assert 'name="since" value="2026-03-01"' in page
    cells = "".join(f"<td>{c}</td>" for c in ("4", "3", "2", "2 min", "10 min", "1 h", "2 h"))
    assert f"<tr><td>All</td>{cells}</tr>" in page
    assert "<tr><td>handoff</td><td>1</td><td>0</td><td>0</td><td>–</td>" in page
    assert "<td>BP-220</td><td>3</td><td>2000</td><td>1.50</td>" in page
    assert "<td>TB-105</td><td>1</td><td>800</td><td>1.25</td>" in page
    assert "cycle time (opened to closed): p50 2 d, p90 5 d" in page
    assert page.count("<svg") == 5  # ack and resolve times, rate per SKU, by state, by category
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "style=" not in page  # nothing the CSP would block
    assert "响应时间" not in page  # English staff read English only

    # no date: the last 30 days, which hold none of these
    page = await (await h.client.get("/console/reports")).text()
    month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    assert f'name="since" value="{month_ago}"' in page and "No escalations." in page

    bad = await h.client.get("/console/reports?since=2026-02-30")
    assert bad.status == 400
    text = await bad.text()
    assert 'role="alert">Not a date: 2026-02-30. Use YYYY-MM-DD.' in text and "<form" in text


async def test_report_page_is_in_the_staff_members_language(tg_bot: BotHarness) -> None:
    """One language per page, the reader's, as on the rest of the console; the figures are the same."""
    await seed_escalations(tg_bot.db)
    await add_staff(tg_bot, language="zh")
    assert (await login(tg_bot)).status == 303
    resp = await tg_bot.client.get(f"/console/reports?since={SINCE}")
    page = await resp.text()
    assert resp.status == 200 and '<html lang="zh">' in page
    assert "<h2>响应时间</h2>" in page and "<h3>索赔状态分布</h3>" in page
    assert '<a href="/console/reports" class="on">报表</a>' in page
    assert "Response times" not in page and "Claims by state" not in page
    assert "<td>2 min</td><td>10 min</td>" in page  # the figures do not change with the language
    bad = await tg_bot.client.get("/console/reports?since=tomorrow")
    text = await bad.text()
    assert bad.status == 400 and "tomorrow" in text and "Not a date" not in text and "YYYY-MM-DD" in text
