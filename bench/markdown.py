"""A results file as the README's Benchmark tables: `python -m bench.markdown bench/results/X.json`.

The README shows the latest figures with the machine they came from; regenerating the
tables from the JSON keeps the two from drifting apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _s(x: float | None) -> str:
    return "not all replied" if x is None else f"{x:.2f} s"


def reply_table(name: str, rows: list[dict[str, Any]]) -> list[str]:
    out = [
        f"**{name}**",
        "",
        "| offered | replied | reply rate | p50 / p99 webhook→reply | held |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        seen = "all" if r["replied"] == r["messages"] else f"{r['replied']} of {r['messages']}"
        out.append(
            f"| {r['offered']:.0f}/s | {seen} | {r['reply_rate']:.0f}/s |"
            f" {_s(r['p50_s'])} / {_s(r['p99_s'])} |"
            f" {'yes' if r['held'] else 'no'} |"
        )
    return [*out, ""]


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        f"Measured {data['at']} on {m['cpus']} cores ({m['cpu']}), Python {m['python']},"
        f" load average at start {', '.join(f'{x:.1f}' for x in m['load_avg_at_start'])}"
        f"{' (quick run)' if data.get('quick') else ''}.",
        "",
    ]
    for name, rows in (data.get("reply") or {}).items():
        lines += reply_table(f"Replies, SQLite, {name}", rows)
    for name, rows in ((data.get("postgres") or {}).get("reply") or {}).items():
        lines += reply_table(f"Replies, PostgreSQL, {name}", rows)
    for db, hook in (
        ("SQLite", data.get("webhook")),
        ("PostgreSQL", (data.get("postgres") or {}).get("webhook")),
    ):
        if not hook:
            continue
        lines += [
            f"**Webhook, closed loop, {db}** (wrk, {hook['connections']} connections, median of "
            f"{len(hook['runs']['bare'])})",
            "",
            "| server | req/s | p99 | ratio to bare |",
            "|---|---|---|---|",
            f"| bare aiohttp | {hook['bare']['median_rps']:.0f} |"
            f" {hook['bare']['median_p99_ms']:.1f} ms | 1 |",
        ]
        for name, v in hook.items():
            if isinstance(v, dict) and "ratio" in v:
                lines.append(
                    f"| {name} | {v['median_rps']:.0f} | {v['median_p99_ms']:.1f} ms | {v['ratio']} |"
                )
        lines.append("")
    bursts = [(n, b) for key in ("burst", "burst_same_load") for n, b in (data.get(key) or {}).items()]
    for name, b in bursts:
        lines.append(
            f"- Burst ({name}): {b['offered']:.0f}/s for {b['seconds']:.0f} s"
            f" (twice {b['capacity']:.0f}/s): worst second {b['worst_second']} replies "
            f"({b['worst_vs_capacity']} of {b['capacity']:.0f}/s); "
            f"{'drained' if b['drained'] else 'not drained'} {b['drain_s_after_burst']} s after the burst."
        )
    for name, u in (data.get("urgent") or {}).items():
        lines.append(
            f"- Urgent page ({name}) under {u['background_rate']:.0f}/s background: {u['paged']} of "
            f"{u['urgent_messages']} paged, p50 {_s(u['p50_s'])}, p99 {_s(u['p99_s'])}."
        )
    for s in data.get("scale") or []:
        o = s["order_status"]
        lines.append(
            f"- {s['rows']:,} messages and orders: order status p50 {_s(o['p50_s'])}, p99 {_s(o['p99_s'])}; "
            f"`GET /api/conversations` p99 {s['api_conversations']['p99_ms']:.1f} ms; RSS {s['rss_mb']} MB."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
