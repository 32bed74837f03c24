"""Staff run claims from chat: /claim commands from a registered phone, notices to the client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.models import Claim, Conversation, Feedback
from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    QC_CHAT,
    audit_actions,
    claims_bot,
    claims_bot_any_db,
    jpeg,
    one_claim,
    order_line,
    photo,
    press,
    say,
    send_photo,
)
from tests.fakes.telegram import FakeTelegram

__all__ = ["claims_bot", "claims_bot_any_db"]
NUMBER = f"CLM-{datetime.now(UTC).year}-000001"


async def open_claim(bot: Any, fake: FakeTelegram, chat: int, caption: str, seed: int = 1) -> Claim:
    await send_photo(bot, fake, chat, jpeg(photo(seed)), caption=caption, file_id=f"X{seed}")
    await bot.settled()
    return await one_claim(bot.db)


async def staff_says(bot: Any, fake: FakeTelegram, text: str) -> str:
    """Send a command from the QC phone; return the bot's answer to that phone."""
    before = len(fake.texts_to(QC_CHAT))
    await say(bot, QC_CHAT, text)
    await bot.settled()
    answers = fake.texts_to(QC_CHAT)[before:]
    assert answers, f"no answer to {text!r}"
    return answers[-1]


async def test_full_staff_path_with_chinese_client_notices(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    claim = await open_claim(claims_bot, fake_telegram, HAILANG_CHAT, "PO-2026-0200 拉链坏了，10个，未使用")
    assert (claim.language, claim.quantity_affected, claim.unused, claim.sku) == ("zh", 10, True, "DF-50")
    assert "您的索赔编号是" in fake_telegram.texts_to(HAILANG_CHAT)[-1]

    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 qc pass zipper teeth misaligned")
    assert "qc_confirmed" in answer and "resp factory|client|carrier" in answer
    # the review step and the verdict arrive as one message, so they cannot swap on the way
    notice = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert notice.index("质检团队正在审核") < notice.index("质检团队已确认该缺陷")

    await staff_says(claims_bot, fake_telegram, "/claim 1 resp factory")
    assert "生产责任" in fake_telegram.texts_to(HAILANG_CHAT)[-1]

    answer = await staff_says(claims_bot, fake_telegram, f"/claim {NUMBER} replace 10")
    assert "resolved" in answer and "10 from spare units" in answer
    decision = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert "已批准更换 10 件" in decision and "备品" in decision and NUMBER in decision
    line = await order_line(claims_bot.db, "DF-50")
    assert (line.replaced_qty, line.spares_used) == (10, 10)  # 1000 × 5% = 50 spare units, 10 used

    await staff_says(claims_bot, fake_telegram, "/claim 1 close")
    closing = [c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(HAILANG_CHAT)][
        -1
    ]
    assert "已结案" in closing.params["text"] and "打分" in closing.params["text"]
    stars = [row[0]["callback_data"] for row in closing.params["reply_markup"]["inline_keyboard"]]
    assert stars == [f"feedback:{i}" for i in range(1, 6)]
    async with claims_bot.db.read() as s:
        conv = (
            await s.execute(select(Conversation).where(Conversation.id == claim.conversation_id))
        ).scalar_one()
    assert conv.dialog == "feedback" and conv.dialog_state == {
        "claim_id": claim.id
    }  # orders' feedback handler
    await press(claims_bot, HAILANG_CHAT, "feedback:5")
    await claims_bot.settled()
    async with claims_bot.db.read() as s:
        feedback = (await s.execute(select(Feedback))).scalar_one()
    assert (feedback.claim_id, feedback.score, feedback.sku) == (claim.id, 5, "DF-50")

    claim = await one_claim(claims_bot.db)
    assert (
        claim.state,
        claim.responsibility,
        claim.resolution,
        claim.replacement_qty,
        claim.spares_used,
    ) == (
        "closed",
        "factory",
        "replacement",
        10,
        10,
    )
    assert claim.closed_at is not None
    steps = [(e.from_state, e.to_state, e.by) for e in claim.events]
    assert steps == [
        (None, "submitted", f"client:telegram:{HAILANG_CHAT}"),
        ("submitted", "qc_review", "staff:li"),
        ("qc_review", "qc_confirmed", "staff:li"),
        ("qc_confirmed", "responsibility_confirmed", "staff:li"),
        ("responsibility_confirmed", "resolved", "staff:li"),
        ("resolved", "closed", "staff:li"),
    ]
    assert claim.events[2].note == "zipper teeth misaligned"
    assert (await audit_actions(claims_bot.db, claim.number)).count("claim_transition") == 5
    # every notice went to the client's own chat and nobody else's
    assert not any(NUMBER in t for t in fake_telegram.texts_to(ACME_CHAT))


async def test_invalid_transition_is_refused_naming_the_allowed_ones(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn")
    client_msgs = len(fake_telegram.texts_to(ACME_CHAT))
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 replace 5")
    assert answer.startswith("Refused") and "submitted" in answer
    assert "qc pass <note>" in answer and "info <question>" in answer
    claim = await one_claim(claims_bot.db)
    assert claim.state == "submitted" and len(claim.events) == 1
    assert len(fake_telegram.texts_to(ACME_CHAT)) == client_msgs  # the client heard nothing

    await staff_says(claims_bot, fake_telegram, "/claim 1 qc pass")
    await staff_says(claims_bot, fake_telegram, "/claim 1 resp client")
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 replace 5")
    assert answer.startswith("Refused") and "factory responsibility" in answer
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 reject")
    assert answer.startswith("Refused") and "reason" in answer
    await staff_says(claims_bot, fake_telegram, "/claim 1 reject signs of heavy use on the straps")
    assert "Reason: signs of heavy use on the straps" in fake_telegram.texts_to(ACME_CHAT)[-1]
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 qc fail")
    assert "Allowed now: close" in answer
    assert (await one_claim(claims_bot.db)).resolution == "rejected"


async def test_non_staff_claim_command_is_client_text(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn")
    await say(claims_bot, ACME_CHAT, "ok")  # closes the short photo window
    await claims_bot.settled()
    before = len(fake_telegram.texts_to(ACME_CHAT))
    await say(claims_bot, ACME_CHAT, "/claim 1 qc pass looks fine to me")
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert claim.state == "submitted" and len(claim.events) == 1
    [reply] = fake_telegram.texts_to(ACME_CHAT)[before:]
    assert "did not understand" in reply and "qc_confirmed" not in reply


async def test_info_request_relayed_and_next_photos_go_back_to_review(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn")
    await say(claims_bot, ACME_CHAT, "thanks")
    await claims_bot.settled()
    await staff_says(claims_bot, fake_telegram, "/claim 1 info Please send a photo of the carton label")
    question = fake_telegram.texts_to(ACME_CHAT)[-1]
    assert "Please send a photo of the carton label" in question and NUMBER in question
    assert (await one_claim(claims_bot.db)).state == "needs_info"

    await say(claims_bot, ACME_CHAT, "The label is on the other side, one moment")
    await claims_bot.settled()
    assert "passed your answer" in fake_telegram.texts_to(ACME_CHAT)[-1]
    assert any("Client answered" in t and "other side" in t for t in fake_telegram.texts_to(QC_CHAT))

    label = jpeg(photo(7))
    await send_photo(claims_bot, fake_telegram, ACME_CHAT, label, file_id="LABEL")
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert claim.state == "qc_review" and len(claim.evidence) == 2
    assert claim.events[-1].by == f"client:telegram:{ACME_CHAT}"
    assert "back with our QC team" in fake_telegram.texts_to(ACME_CHAT)[-1]
    more = [c for c in fake_telegram.sent("sendPhoto") if str(c.params["chat_id"]) == str(QC_CHAT)][-1]
    assert f"More evidence for {NUMBER}" in more.params["caption"] and more.files["photo"] == label


async def test_summary_and_open_list_for_staff(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn, 4 pcs")
    summary = await staff_says(claims_bot, fake_telegram, "/claim 1")
    assert NUMBER in summary and "Acme Bags GmbH" in summary and "Qty affected: 4" in summary
    assert "History:" in summary and "/claim 1 qc pass <note>" in summary
    listing = await staff_says(claims_bot, fake_telegram, "/claim")
    assert NUMBER in listing and "PO-2026-0117" in listing
    answer = await staff_says(claims_bot, fake_telegram, "/claim 99 qc pass")
    assert "No claim 99" in answer
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 dance")
    assert "unknown action" in answer


async def test_replacement_beyond_spare_units_uses_what_is_left(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn, 80 pcs, unused")
    for cmd in ("/claim 1 qc pass", "/claim 1 resp factory"):
        await staff_says(claims_bot, fake_telegram, cmd)
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 replace 5000")
    assert answer.startswith("Refused") and "2000" in answer
    answer = await staff_says(claims_bot, fake_telegram, "/claim 1 replace 80")
    assert "60 from spare units" in answer  # ceil(2000 × 3%) = 60, not 61
    line = await order_line(claims_bot.db, "BP-220")
    assert (line.replaced_qty, line.spares_used) == (80, 60)
    assert "60 of them are covered by the spare units" in fake_telegram.texts_to(ACME_CHAT)[-1]


async def test_qc_pass_button_on_the_page(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await open_claim(claims_bot, fake_telegram, ACME_CHAT, "PO-2026-0117 strap torn")
    [page] = [c for c in fake_telegram.sent("sendPhoto") if str(c.params["chat_id"]) == str(QC_CHAT)]
    values = [row[0]["callback_data"] for row in page.params["reply_markup"]["inline_keyboard"]]
    assert values == ["/claim 1 qc pass", "/claim 1"]
    await press(claims_bot, QC_CHAT, values[0])
    await claims_bot.settled()
    assert (await one_claim(claims_bot.db)).state == "qc_confirmed"
    assert "confirmed the defect" in fake_telegram.texts_to(ACME_CHAT)[-1]
