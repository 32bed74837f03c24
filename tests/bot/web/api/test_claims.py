"""Claims over the JSON API and the CLI: list, read with events and evidence links, transition."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    all_claims,
    audit_actions,
    claims_bot,
    claims_bot_any_db,
    jpeg,
    photo,
    say,
    send_photo,
)
from tests.fakes.telegram import FakeTelegram

__all__ = ["claims_bot", "claims_bot_any_db"]
YEAR = datetime.now(UTC).year


async def two_claims(bot: Any, fake: FakeTelegram) -> list[bytes]:
    first, second = jpeg(photo(1)), jpeg(photo(2))
    await send_photo(bot, fake, ACME_CHAT, first, caption="PO-2026-0117 strap torn, unused", file_id="K1")
    await bot.settled()  # numbered in this order: two clients' messages are otherwise handled concurrently
    await send_photo(bot, fake, HAILANG_CHAT, second, caption="PO-2026-0200 拉链坏了", file_id="K2")
    await bot.settled()
    return [first, second]


async def test_list_and_filters_newest_first(claims_bot_any_db: Any, fake_telegram: FakeTelegram) -> None:
    claims_bot = claims_bot_any_db
    await two_claims(claims_bot, fake_telegram)
    resp = await claims_bot.api("GET", "/api/claims")
    assert resp.status == 200
    body = await resp.json()
    assert [c["id"] for c in body["items"]] == [f"CLM-{YEAR}-000002", f"CLM-{YEAR}-000001"]
    assert body["next"] is None
    for query, expected in [
        ("client=acme", [1]),
        ("client=hailang", [2]),
        ("order=po 2026 0117", [1]),
        ("sku=DF-50", [2]),
        ("state=submitted", [2, 1]),
        ("state=closed", []),
    ]:
        items = (await (await claims_bot.api("GET", f"/api/claims?{query}")).json())["items"]
        assert [c["number"] for c in items] == expected, query
    page = await (await claims_bot.api("GET", "/api/claims?limit=1")).json()
    assert len(page["items"]) == 1 and page["next"]
    rest = await (await claims_bot.api("GET", f"/api/claims?limit=1&cursor={page['next']}")).json()
    assert rest["items"][0]["id"] == f"CLM-{YEAR}-000001" and rest["next"] is None
    assert (await claims_bot.api("GET", "/api/claims?state=lost")).status == 422
    assert (await claims_bot.api("GET", "/api/claims?cursor=nonsense")).status == 400
    assert (await claims_bot.client.get("/api/claims")).status == 401


async def test_get_claim_with_events_and_signed_evidence_links(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    files = await two_claims(claims_bot, fake_telegram)
    for ref in (f"CLM-{YEAR}-000001", "1"):
        resp = await claims_bot.api("GET", f"/api/claims/{ref}")
        assert resp.status == 200
        claim = await resp.json()
        assert claim["id"] == f"CLM-{YEAR}-000001"
    assert (claim["state"], claim["order"], claim["sku"], claim["client"], claim["unused"]) == (
        "submitted",
        "PO-2026-0117",
        "BP-220",
        "acme",
        True,
    )
    assert claim["events"][0]["to"] == "submitted" and claim["events"][0]["from"] is None
    [ev] = claim["evidence"]
    assert ev["sha256"] == hashlib.sha256(files[0]).hexdigest() and ev["mime"] == "image/jpeg"
    media = await claims_bot.client.get(urlsplit(ev["url"]).path)  # no bearer: the link itself is the key
    assert media.status == 200 and await media.read() == files[0]
    assert (await claims_bot.api("GET", "/api/claims/CLM-2020-000777")).status == 404


async def test_transition_through_the_api_notifies_the_client(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    await two_claims(claims_bot, fake_telegram)
    path = f"/api/claims/CLM-{YEAR}-000002/transition"
    resp = await claims_bot.api("POST", path, json={"action": "qc_pass", "by": "li", "note": "confirmed"})
    assert resp.status == 200
    body = await resp.json()
    assert body["state"] == "qc_confirmed" and body["events"][-1]["by"] == "staff:li"
    await claims_bot.settled()
    assert "质检团队已确认该缺陷" in fake_telegram.texts_to(HAILANG_CHAT)[-1]

    resp = await claims_bot.api("POST", path, json={"action": "replace", "by": "li", "qty": 3})
    assert resp.status == 422
    refusal = await resp.json()
    assert refusal["field"] == "action" and refusal["allowed"] == ["resp", "info"]
    assert refusal["state"] == "qc_confirmed" and "error" in refusal

    resp = await claims_bot.api(
        "POST", path, json={"action": "resp", "by": "li", "responsibility": "factory"}
    )
    assert (await resp.json())["responsibility"] == "factory"
    resp = await claims_bot.api("POST", path, json={"action": "replace", "by": "li", "qty": 3})
    body = await resp.json()
    assert (body["state"], body["resolution"], body["replacement_qty"], body["spares_used"]) == (
        "resolved",
        "replacement",
        3,
        3,
    )
    await claims_bot.settled()
    assert "已批准更换 3 件" in fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert "claim_transition" in await audit_actions(claims_bot.db, f"CLM-{YEAR}-000002")


async def test_transition_bad_input_writes_nothing(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await two_claims(claims_bot, fake_telegram)
    path = f"/api/claims/CLM-{YEAR}-000001/transition"
    cases = [
        ({"action": "qc_pass", "by": "nobody"}, 422, "by"),
        ({"action": "qc_pass"}, 422, "by"),
        ({"action": "fly", "by": "li"}, 422, "action"),
        ({"action": "resp", "by": "li", "responsibility": "moon"}, 422, "action"),
        ({"action": "replace", "by": "li", "qty": "3"}, 422, "qty"),
        ({"action": "info", "by": "li"}, 422, "note"),
    ]
    for body, status, _field in cases:
        resp = await claims_bot.api("POST", path, json=body)
        assert resp.status == status, body
        assert "error" in await resp.json()
    resp = await claims_bot.api("POST", path, data=b"{nope", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await claims_bot.api(
        "POST", "/api/claims/CLM-2020-000009/transition", json={"action": "close", "by": "li"}
    )
    assert resp.status == 404
    resp = await claims_bot.client.post(path, json={"action": "qc_pass", "by": "li"})
    assert resp.status == 401
    claim = (await all_claims(claims_bot.db))[0]
    assert claim.state == "submitted" and len(claim.events) == 1


async def test_cli_claims_list(claims_bot: Any, fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    await two_claims(claims_bot, fake_telegram)
    await say(claims_bot, ACME_CHAT, "thanks")
    await claims_bot.settled()
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{claims_bot.settings.database.url}"\n')

    async def cli(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.tools.cli",
            "--config",
            str(config),
            "claims",
            "list",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, _ = await cli()
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["claim", "state", "order", "sku", "client", "age"]
    assert lines[1].split()[:5] == [f"CLM-{YEAR}-000002", "submitted", "PO-2026-0200", "DF-50", "hailang"]
    code, out, _ = await cli("--json")
    items = json.loads(out)["items"]
    assert [(i["id"], i["state"], i["order"]) for i in items] == [
        (f"CLM-{YEAR}-000002", "submitted", "PO-2026-0200"),
        (f"CLM-{YEAR}-000001", "submitted", "PO-2026-0117"),
    ]
    assert all(i["age_seconds"] >= 0 for i in items)
    code, _, err = await cli("--limit", "x")
    assert code != 0 and "error" in err


async def test_info_through_the_api_reaches_the_client_and_their_photo_answers_it(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await two_claims(claims_bot, fake_telegram)
    path = f"/api/claims/CLM-{YEAR}-000001/transition"
    resp = await claims_bot.api(
        "POST", path, json={"action": "info", "by": "li", "question": "Please show the inside seam."}
    )
    assert resp.status == 200 and (await resp.json())["state"] == "needs_info"
    await claims_bot.settled()
    assert "Please show the inside seam." in fake_telegram.texts_to(ACME_CHAT)[-1]
    await send_photo(claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(9)), file_id="K9")
    await claims_bot.settled()
    claim = await (await claims_bot.api("GET", f"/api/claims/CLM-{YEAR}-000001")).json()
    assert claim["state"] == "qc_review" and len(claim["evidence"]) == 2
    assert [e["to"] for e in claim["events"]] == ["submitted", "needs_info", "qc_review"]


async def test_unknown_order_numbers_are_searchable_as_given(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot, fake_telegram, 5559999, jpeg(photo(8)), caption="SO-88812345 strap torn", file_id="U1"
    )
    await claims_bot.settled()
    items = (await (await claims_bot.api("GET", "/api/claims?order=SO-88812345")).json())["items"]
    assert [(c["order"], c["order_known"], c["client"]) for c in items] == [("SO-88812345", False, None)]
