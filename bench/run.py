"""`make bench`: what a client feels, measured against `aftersales serve` on this machine.

    python -m bench.run [--quick] [--against REF] [--only reply,webhook,burst,urgent,scale,postgres]

One run measures, each against fresh servers (SQLite unless said):
  reply    open-loop ladder of offered rates ("hello" and an order question, each from a new
           chat) up to and past saturation: replied, reply rate, p50/p99 webhook→reply at
           the fake Bot API; "held" = every message replied and p99 ≤ 1 s
  webhook  closed loop with wrk (32 connections), alternating with a bare aiohttp server,
           median of 3: the ratio of the bot's webhook throughput to bare aiohttp's
  burst    10 s at twice the capacity (best reply rate on the ladder): replies per second, drain after
  urgent   background load at half that rate: urgent message → level-1 page on the on-call phone
  scale    10 k and 1 M messages and orders: order-status p99, GET /api/conversations p99, RSS
  postgres the reply ladder and the webhook ratio on PostgreSQL (BENCH_POSTGRES, default
           postgresql+asyncpg://postgres@127.0.0.1:5432), beside SQLite

This tree runs with its intake process (`server.intake_port`, webhooks answered by a second
process) unless --in-process (BENCH_IN_PROCESS=1); a baseline tree runs as it always did.
--against REF measures a git revision (e.g. main) too, alternating with the working tree in
the same run, so a change is judged against its baseline on the same noisy machine.
BENCH_QUICK=1 (or --quick) is a short run (about 3 minutes) with smaller steps.
JSON goes to bench/results/; a summary is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import datascale, scenarios, servers, wrk

RESULTS = servers.ROOT / "bench" / "results"
SECTIONS = ("reply", "webhook", "burst", "urgent", "scale", "postgres")
FULL = {
    "rates": [25, 50, 75, 100, 150, 200, 300, 400, 500, 600, 800],
    "seconds": 8.0,
    "wrk_s": 5.0,
    "reps": 3,
    "scale": [10_000, 1_000_000],
    "pg_rates": [50, 100, 200, 300, 400, 500],
}
QUICK = {
    "rates": [25, 50, 100, 200, 400],
    "seconds": 4.0,
    "wrk_s": 3.0,
    "reps": 1,
    "scale": [10_000, 100_000],
    "pg_rates": [50, 100, 200],
}


def say(text: str) -> None:
    print(text, flush=True)


def baseline_tree(ref: str, tmp: Path, name: str) -> Path:
    """`ref` exported into `tmp`, with this tree's compiled catalogs (they are built, not committed)."""
    tree = tmp / name
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(servers.ROOT), "archive", ref], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    for mo in (servers.ROOT / "config" / "locale").rglob("*.mo"):
        dest = tree / mo.relative_to(servers.ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mo, dest)
    return tree


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument(
        "--against", default=os.environ.get("BENCH_AGAINST"), help="a git ref to compare with"
    )
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ",".join(SECTIONS)))
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        default=os.environ.get("BENCH_IN_PROCESS") == "1",
        help="this tree without its intake process (server.intake_port unset), as a baseline tree runs",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    out: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": args.quick,
        "against": args.against,
        "intake_process": not args.in_process,
        "plan": plan,
    }
    with tempfile.TemporaryDirectory(prefix="aftersales-bench-") as d:
        tmp = Path(d)
        # The working tree as it is now (tracked files, edits included; a new file counts once
        # it is `git add`ed), so editing it during a run does not change what is measured.
        snapshot = (
            subprocess.run(
                ["git", "-C", str(servers.ROOT), "stash", "create"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            or "HEAD"
        )
        this = baseline_tree(snapshot, tmp, "this")
        targets = [scenarios.Target("this", this, "sqlite", intake=not args.in_process)]
        if args.against:
            targets.append(
                scenarios.Target(args.against, baseline_tree(args.against, tmp, "baseline"), "sqlite")
            )
        await _sections(out, only, plan, targets, tmp, args.postgres)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{out['at'].replace(':', '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    summary(out)
    say(f"wrote {path.relative_to(servers.ROOT)}")
    return out


async def _sections(
    out: dict[str, Any],
    only: set[str],
    plan: dict[str, Any],
    targets: list[scenarios.Target],
    tmp: Path,
    pg: str,
) -> None:
    caps = {t.name: 50.0 for t in targets}
    if "reply" in only:
        say("reply ladder (SQLite)")
        out["reply"] = await scenarios.reply_ladder(targets, tmp, plan["rates"], plan["seconds"], say)
        caps = {name: scenarios.capacity(rows) for name, rows in out["reply"].items()}
    if "webhook" in only and wrk.available():
        say("webhook closed loop vs bare aiohttp (wrk, 32 connections)")
        out["webhook"] = await scenarios.webhook_ratio(targets, tmp, plan["wrk_s"], plan["reps"], 32, say)
    if "burst" in only:
        out["burst"] = {t.name: await scenarios.burst(t, tmp, caps[t.name]) for t in targets}
        say(f"burst: {json.dumps({k: v['replies_per_second'] for k, v in out['burst'].items()})}")
        if len(targets) > 1:  # each tree's own capacity differs: also one load for all, the lowest doubled
            low = min(caps.values())
            out["burst_same_load"] = {t.name: await scenarios.burst(t, tmp, low) for t in targets}
            same = {k: v["replies_per_second"] for k, v in out["burst_same_load"].items()}
            say(f"burst, same load: {json.dumps(same)}")
    if "urgent" in only:
        out["urgent"] = {t.name: await scenarios.urgent(t, tmp, caps[t.name]) for t in targets}
    if "scale" in only:
        say("data scale (SQLite, bulk-seeded)")
        out["scale"] = [
            await datascale.measure(tmp, n, questions=100, rate=10, api_requests=200) for n in plan["scale"]
        ]
    if "postgres" in only and not await _reachable(pg):
        say(f"PostgreSQL ({pg}) not reachable: skipped")
        out["postgres"] = {"skipped": f"{pg} not reachable"}
    elif "postgres" in only:
        say(f"PostgreSQL ({pg})")
        pgt = [scenarios.Target(f"{t.name}/pg", t.source, pg, intake=t.intake) for t in targets]
        out["postgres"] = {
            "reply": await scenarios.reply_ladder(pgt, tmp, plan["pg_rates"], plan["seconds"], say)
        }
        if wrk.available():
            out["postgres"]["webhook"] = await scenarios.webhook_ratio(
                pgt, tmp, plan["wrk_s"], plan["reps"], 32, say
            )


async def _reachable(pg: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(f"{pg.replace('postgresql+asyncpg', 'postgresql')}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def summary(out: dict[str, Any]) -> None:
    m = out["machine"]
    say("")
    say(f"machine: {m['cpus']} cpus, {m['cpu']}, load {m['load_avg_at_start']}")
    for db, reply in (("SQLite", out.get("reply")), ("PostgreSQL", (out.get("postgres") or {}).get("reply"))):
        for name, rows in (reply or {}).items():
            held = scenarios.highest_held(rows)
            say(
                f"\nreplies, {db}, {name}: highest rate held {f'{held:.0f}/s' if held else 'none'},"
                f" capacity (best reply rate) {scenarios.capacity(rows):.0f}/s"
            )
            say(
                f"{'offered':>8} {'replied':>12} {'reply/s':>8} {'p50 s':>8} {'p99 s':>8}"
                f" {'webhook p99 ms':>15}"
            )
            for r in rows:
                seen = "all" if r["replied"] == r["messages"] else f"{r['replied']}/{r['messages']}"
                say(
                    f"{r['offered']:>8.0f} {seen:>12} {r['reply_rate']:>8.0f}"
                    f" {_f(r['p50_s'])} {_f(r['p99_s'])}"
                    f" {r['webhook_p99_ms']:>15.1f}"
                )
    for db, hook in (
        ("SQLite", out.get("webhook")),
        ("PostgreSQL", (out.get("postgres") or {}).get("webhook")),
    ):
        if hook:
            bare = hook["bare"]
            say(
                f"\nwebhook, {db}: bare aiohttp {bare['median_rps']:.0f} req/s"
                f" (p99 {bare['median_p99_ms']} ms)"
            )
            for name, v in hook.items():
                if isinstance(v, dict) and "ratio" in v:
                    say(
                        f"  {name}: {v['median_rps']:.0f} req/s, p99 {v['median_p99_ms']} ms,"
                        f" ratio {v['ratio']}"
                    )
    bursts = [(n, b) for key in ("burst", "burst_same_load") for n, b in (out.get(key) or {}).items()]
    for name, b in bursts:
        say(
            f"\nburst {name}: {b['offered']:.0f}/s for {b['seconds']:.0f} s"
            f" (capacity {b['capacity']:.0f}/s): "
            f"worst second {b['worst_second']} replies ({b['worst_vs_capacity']} of capacity), "
            f"drained {b['drained']} {b['drain_s_after_burst']} s after"
        )
    for name, u in (out.get("urgent") or {}).items():
        say(
            f"urgent {name}: {u['paged']}/{u['urgent_messages']} paged under {u['background_rate']:.0f}/s, "
            f"p50 {u['p50_s']} s, p99 {u['p99_s']} s"
        )
    for s in out.get("scale") or []:
        o = s["order_status"]
        say(
            f"scale {s['rows']:>9,} rows: order status p50 {o['p50_s']} s p99 {o['p99_s']} s "
            f"({s['order_answers_naming_the_order']}/{o['messages']} named the order); "
            f"/api/conversations p99 {s['api_conversations']['p99_ms']} ms; RSS {s['rss_mb']} MB"
        )


def _f(x: float | None) -> str:
    return f"{'>wait':>8}" if x is None else f"{x:>8.3f}"


if __name__ == "__main__":
    asyncio.run(main())
