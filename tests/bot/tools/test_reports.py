"""`aftersales report quality`: counts per SKU/category/month, defect rates, and an HTML page with charts."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.tools.reports import render_html, render_text
from storage.db import Database
from storage.models import Claim, Client, Order, OrderLine
from storage.repos.quality import quality_stats
from tests.report_fixtures import SINCE

ROOT = Path(__file__).resolve().parents[3]


async def seed_claims(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as s:
            client = Client(key="acme", name="Acme")
            s.add(client)
            await s.flush()
            order = Order(number="PO-1", number_key="PO1", client_id=client.id)
            s.add(order)
            await s.flush()
            s.add_all(
                [
                    OrderLine(order_id=order.id, sku="BP-220", quantity=2000),
                    OrderLine(order_id=order.id, sku="TT-10", quantity=500),
                ]
            )
            specs = [
                ("BP-220", "strap", 2026, 10, 10, "replacement", "eligible", 10),
                ("BP-220", "zipper", 2026, 11, 30, "follow_up", "eligible", None),
                ("BP-220", "strap", 2026, 11, 4, None, "excluded:used", None),
                ("TT-10", "<script>x</script>", 2026, 11, 5, "rejected", "eligible", None),
                ("TT-10", "stitching", 2025, 1, 1, None, "eligible", None),
            ]
            for i, (sku, cat, year, month, qty, res, elig, repl) in enumerate(specs, 1):
                s.add(
                    Claim(
                        number=f"CLM-{year}-{i:06d}",
                        sku=sku,
                        category=cat,
                        quantity_affected=qty,
                        resolution=res,
                        eligibility=elig,
                        replacement_qty=repl,
                        state="closed" if res else "qc_review",
                        created_at=datetime(year, month, 3, tzinfo=UTC),
                    )
                )
    finally:
        await db.dispose()


async def test_statistics_and_rendering(db_url: str) -> None:
    await seed_claims(db_url)
    db = Database(db_url)
    try:
        async with db.read() as s:
            stats = await quality_stats(s, since=datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        await db.dispose()
    assert stats.total == 4 and stats.excluded == 1 and stats.replaced_units == 10
    assert stats.by_sku == {"BP-220": 3, "TT-10": 1}
    assert stats.by_month == {"2026-10": 1, "2026-11": 3}
    assert stats.ordered_units == {"BP-220": 2000, "TT-10": 500}
    text = render_text(stats)
    assert "BP-220" in text and "2.20%" in text  # 44 of 2000 units affected
    page = render_html(stats)
    assert page.count("<svg") == 4 and "Claims per SKU" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_cli_writes_html_and_refuses_a_bad_date(tmp_path: Path, db_url: str) -> None:
    import asyncio

    asyncio.run(seed_claims(db_url))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n')
    out = tmp_path / "q.html"
    run = [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg), "report", "quality"]
    done = subprocess.run(
        [*run, "--since", "2026-11-01", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "3 claims" in done.stdout and "<svg" in out.read_text()
    bad = subprocess.run([*run, "--since", "yesterday"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a date" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


async def seed_response_times(url: str) -> None:
    from bot.tools.demo import seed
    from tests.report_fixtures import seed_claims as seed_fixture_claims
    from tests.report_fixtures import seed_escalations

    db = Database(url)
    try:
        await seed(db)
        await seed_fixture_claims(db)
        await seed_escalations(db)
    finally:
        await db.dispose()


def test_cli_shows_response_times_and_claim_figures(tmp_path: Path, db_url: str) -> None:
    import asyncio

    asyncio.run(seed_response_times(db_url))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n')
    run = [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg), "report", "quality", "--since", SINCE]
    done = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.strip()}
    # opened, acked, resolved, MTTA p50/p90, MTTR p50/p90 (as "2 min", "10 min", ...)
    assert rows["all"] == ["4", "3", "2", "2", "min", "10", "min", "1", "h", "2", "h"]
    assert rows["urgent"] == ["2", "2", "2", "1", "min", "2", "min", "1", "h", "2", "h"]
    assert rows["handoff"] == ["1", "0", "0", "–", "–", "–", "–"]
    assert "Claim cycle time (opened to closed): p50 2 d, p90 5 d (3 of 5 closed)" in done.stdout
    assert rows["BP-220"][-3:] == ["3", "2000", "1.50"] and rows["TB-105"][-3:] == ["1", "800", "1.25"]

    out = tmp_path / "q.html"
    done = subprocess.run([*run, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert 'aria-label="Time to acknowledge, per reason"' in page
    assert 'aria-label="Claims per 1,000 units shipped"' in page
    assert "<title>urgent p90: 2 min</title>" in page and "<title>BP-220: 1.50</title>" in page
    assert "<td>BP-220</td><td>3</td><td>2000</td><td>1.50</td>" in page
