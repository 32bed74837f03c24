"""The orders side after a real claim: the client's 1–5 feedback, then the repeat-order brief.

The claim is opened and closed through the claims handlers and staff commands (Telegram), so
this checks the contract between the two sides: the closing notice opens the "feedback"
dialog, and the repeat-order memory reads what the claim left behind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.models import Feedback
from tests.claim_fixtures import (
    HAILANG_CHAT,
    QC_CHAT,
    claims_bot,
    jpeg,
    one_claim,
    photo,
    press,
    say,
    send_photo,
)
from tests.fakes.telegram import FakeTelegram

__all__ = ["claims_bot"]
NUMBER = f"CLM-{datetime.now(UTC).year}-000001"


async def staff(bot: Any, text: str) -> None:
    await say(bot, QC_CHAT, text)
    await bot.settled()


async def test_feedback_after_closing_and_the_brief_for_the_next_order(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot,
        fake_telegram,
        HAILANG_CHAT,
        jpeg(photo(7)),
        caption="PO-2026-0200 拉链坏了，10个，未使用",
        file_id="F7",
    )
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    for command in (
        "/claim 1 qc pass zipper teeth misaligned",
        "/claim 1 resp factory",
        "/claim 1 replace 10",
    ):
        await staff(claims_bot, command)
    await staff(claims_bot, "/claim 1 close")
    assert "打分" in fake_telegram.texts_to(HAILANG_CHAT)[-1]

    await press(claims_bot, HAILANG_CHAT, "feedback:5")
    await fake_telegram.wait_for(lambda f: "感谢您的评价（5/5）" in f.texts_to(HAILANG_CHAT)[-1])
    async with claims_bot.db.read() as s:
        [fb] = list((await s.execute(select(Feedback))).scalars())
    assert (fb.claim_id, fb.score, fb.sku, fb.order_id) == (claim.id, 5, "DF-50", claim.order_id)

    # hailang orders DF-50 again: staff with qc/sales roles get the brief before it ships
    before = len(fake_telegram.texts_to(QC_CHAT))
    body = {"client": "hailang", "status": "confirmed", "lines": [{"sku": "DF-50", "quantity": 1200}]}
    resp = await claims_bot.api("PUT", "/api/orders/PO-2026-0300", json=body)
    assert resp.status == 201
    await fake_telegram.wait_for(lambda f: len(f.texts_to(QC_CHAT)) > before)
    brief = fake_telegram.texts_to(QC_CHAT)[-1]
    assert "Repeat-order brief" in brief and "PO-2026-0300" in brief
    assert "DF-50: 1 claim from this client" in brief
    assert f"{NUMBER} (this client, order PO-2026-0200)" in brief and "replacement" in brief
    prior = (await (await claims_bot.api("GET", "/api/orders/PO-2026-0300")).json())["prior_issues"]
    assert prior[0]["claims"][0]["id"] == NUMBER and prior[0]["resolutions"] == {"replacement": 1}
