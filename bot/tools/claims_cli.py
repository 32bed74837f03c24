"""`aftersales claims list [--json]`: claims with state, order and age, newest first."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from config.settings import Settings


def add_parser(sub: Any) -> None:
    claims = sub.add_parser("claims", help="defect claims")
    claims_sub = claims.add_subparsers(dest="claims_command", required=True, parser_class=sub._parser_class)
    listing = claims_sub.add_parser("list", help="claims with state, order and age (newest first)")
    listing.add_argument("--json", action="store_true", help='one JSON object: {"items": [...]}')
    listing.add_argument("--state", help="only claims in this state")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")


def age(created: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created).total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d{hours}h" if days else (f"{hours}h{rest // 60}m" if hours else f"{rest // 60}m")


async def list_claims(settings: Settings, args: argparse.Namespace) -> str:
    from storage.db import Database  # the CLI imports the database layer only for commands that need it
    from storage.models import utcnow
    from storage.repos import claims as repo

    db = Database(settings.database.url)
    try:
        async with db.read() as session:
            rows, _ = await repo.list_claims(session, limit=max(1, args.limit), state=args.state)
            keys = await repo.client_keys(session, rows)
    finally:
        await db.dispose()
    now = utcnow()
    if args.json:
        items = []
        for c in rows:
            item = repo.claim_json(c, client_key=keys.get(c.client_id or -1))
            item["age_seconds"] = int((now - c.created_at).total_seconds())
            items.append(item)
        return json.dumps({"items": items}, ensure_ascii=False, indent=2)
    if not rows:
        return "no claims"
    header = f"{'claim':<16} {'state':<25} {'order':<16} {'sku':<10} {'client':<10} age"
    lines = [header]
    for c in rows:
        lines.append(
            f"{c.number:<16} {c.state:<25} {(c.order_number or '-'):<16} {(c.sku or '-'):<10} "
            f"{keys.get(c.client_id or -1, '-'):<10} {age(c.created_at, now)}"
        )
    return "\n".join(lines)
