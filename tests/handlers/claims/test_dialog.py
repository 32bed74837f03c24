"""Client side of defect claims, end to end through Telegram (real PTB client, fake Bot API)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from storage.models import AttachmentRow, ClaimEvidence, Conversation, OutboxRow
from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    QC_CHAT,
    SALES_CHAT,
    STRANGER_CHAT,
    all_claims,
    altered,
    audit_actions,
    claims_bot,
    claims_bot_any_db,
    jpeg,
    one_claim,
    photo,
    png,
    press,
    say,
    send_photo,
)
from tests.fakes.telegram import FakeTelegram, message_update

__all__ = ["claims_bot", "claims_bot_any_db"]
YEAR = datetime.now(UTC).year


def first_claim_no() -> str:
    return f"CLM-{YEAR}-000001"


def pages_to(fake: FakeTelegram, chat: int) -> list[Any]:
    """What a staff phone got: photos (caption = the page) and text messages."""
    return [c for c in fake.sent() if str(c.params.get("chat_id")) == str(chat)]


async def test_one_captioned_photo_opens_the_claim_at_once(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    data = jpeg(photo(1))
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        data,
        caption="PO-2026-0117 strap torn, goods unused",
        file_id="P1",
    )
    await claims_bot.settled()

    claim = await one_claim(claims_bot.db)
    assert claim.number == first_claim_no()
    assert (claim.state, claim.order_number, claim.sku, claim.unused) == (
        "submitted",
        "PO-2026-0117",
        "BP-220",
        True,
    )
    assert claim.order_id is not None and claim.eligibility == "eligible"
    assert claim.category == "strap" and "strap torn" in claim.description
    [ev] = claim.evidence
    assert ev.sha256 == hashlib.sha256(data).hexdigest() and ev.mime == "image/jpeg"
    assert ev.phash and len(ev.phash) == 16
    async with claims_bot.db.read() as s:
        att = await s.get(AttachmentRow, ev.attachment_id)
    assert att is not None and att.phash == ev.phash

    [reply] = fake_telegram.texts_to(ACME_CHAT)
    assert claim.number in reply and "Next steps" in reply and "QC" in reply
    assert "how many pieces" in reply  # the only thing still unknown, asked once, optional

    [page] = [c for c in pages_to(fake_telegram, QC_CHAT) if c.method == "sendPhoto"]
    caption = page.params["caption"]
    assert claim.number in caption and "PO-2026-0117" in caption and "BP-220" in caption
    assert "strap torn" in caption and "/claim 1 qc pass" in caption
    assert page.files["photo"] == data  # the stored evidence itself went to the phone
    assert pages_to(fake_telegram, SALES_CHAT) == []  # only QC staff are paged for claims
    assert "claim_opened" in await audit_actions(claims_bot.db, claim.number)


async def test_dialog_asks_for_missing_order_and_album_photos_join_one_claim(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    album = [jpeg(photo(10 + i)) for i in range(3)]
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        album[0],
        caption="the zipper is broken",
        file_id="A0",
        media_group_id="ALBUM1",
    )
    for i in (1, 2):
        await send_photo(
            claims_bot, fake_telegram, ACME_CHAT, album[i], file_id=f"A{i}", media_group_id="ALBUM1"
        )
    await claims_bot.settled()
    asks = [c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(ACME_CHAT)]
    assert len(asks) == 1, [c.params["text"] for c in asks]  # one question for the whole album
    assert "Which order" in asks[0].params["text"]
    offered = [b[0]["callback_data"] for b in asks[0].params["reply_markup"]["inline_keyboard"]]
    assert set(offered) == {"PO-2026-0117", "PO-2026-0123"}  # the client's own recent orders
    assert await all_claims(claims_bot.db) == []

    await press(claims_bot, ACME_CHAT, "PO-2026-0123")
    await claims_bot.settled()
    sku_q = fake_telegram.sent("sendMessage")[-1].params
    assert "Which item of PO-2026-0123" in sku_q["text"]
    assert [b[0]["callback_data"] for b in sku_q["reply_markup"]["inline_keyboard"]] == ["TT-100", "BP-300"]

    await press(claims_bot, ACME_CHAT, "BP-300")
    await claims_bot.settled()
    assert "How many pieces" in fake_telegram.sent("sendMessage")[-1].params["text"]
    await say(claims_bot, ACME_CHAT, "12")
    await claims_bot.settled()
    assert "unused" in fake_telegram.sent("sendMessage")[-1].params["text"]
    await press(claims_bot, ACME_CHAT, "claim:unused:yes")
    await claims_bot.settled()

    claim = await one_claim(claims_bot.db)
    assert (claim.order_number, claim.sku, claim.quantity_affected, claim.unused) == (
        "PO-2026-0123",
        "BP-300",
        12,
        True,
    )
    assert claim.description == "the zipper is broken" and claim.category == "zipper"
    assert sorted(e.sha256 for e in claim.evidence) == sorted(hashlib.sha256(a).hexdigest() for a in album)
    assert claim.number in fake_telegram.texts_to(ACME_CHAT)[-1]
    photos = [c for c in pages_to(fake_telegram, QC_CHAT) if c.method == "sendPhoto"]
    assert [c.files["photo"] for c in photos] == album  # all three, in order, in one page


async def test_album_after_a_complete_caption_joins_the_opened_claim_quietly(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    album = [jpeg(photo(20 + i)) for i in range(3)]
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        album[0],
        caption="PO-2026-0117 stitching came loose on 3 pcs, unused",
        file_id="B0",
        media_group_id="ALBUM2",
    )
    for i in (1, 2):
        await send_photo(
            claims_bot, fake_telegram, ACME_CHAT, album[i], file_id=f"B{i}", media_group_id="ALBUM2"
        )
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert len(claim.evidence) == 3 and claim.quantity_affected == 3
    assert len(fake_telegram.texts_to(ACME_CHAT)) == 1  # the claim number; album photos need no reply each
    # QC saw every photo: the new-claim page, then the later album photos as more evidence
    assert len([c for c in pages_to(fake_telegram, QC_CHAT) if c.method == "sendPhoto"]) == 3


async def test_photos_one_per_message_join_the_claim_with_a_short_receipt(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        jpeg(photo(30)),
        caption="PO-2026-0117 handle broken",
        file_id="C0",
    )
    await send_photo(claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(31)), file_id="C1")
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert len(claim.evidence) == 2
    assert f"Added to {claim.number}" in fake_telegram.texts_to(ACME_CHAT)[-1]


async def test_excluded_reports_are_explained_recorded_and_routed(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        jpeg(photo(40)),
        caption="PO-2026-0117 strap torn after using them for two months",
        file_id="D0",
    )
    await claims_bot.settled()
    await send_photo(
        claims_bot,
        fake_telegram,
        HAILANG_CHAT,
        jpeg(photo(41)),
        caption="PO-2026-0200 快递运输途中压坏了，外箱破损",
        file_id="D1",
    )
    await claims_bot.settled()
    used, carrier = await all_claims(claims_bot.db)
    assert (used.eligibility, used.unused, used.state) == ("excluded:used", False, "submitted")
    assert carrier.eligibility == "excluded:carrier" and carrier.language == "zh"
    en = fake_telegram.texts_to(ACME_CHAT)[-1]
    assert used.number in en and "may not be covered" in en and "the goods were used" in en
    zh = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert carrier.number in zh and "运输损坏" in zh and "仍已记录" in zh
    pages = [c.params.get("caption") or c.params.get("text") for c in pages_to(fake_telegram, QC_CHAT)]
    assert any(used.number in p and "excluded:used" in p and "staff review" in p for p in pages)
    assert any(carrier.number in p and "excluded:carrier" in p for p in pages)


async def test_report_without_photo_asks_for_evidence_and_opens_no_claim(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await say(claims_bot, ACME_CHAT, "PO-2026-0117: the strap is torn on 5 pcs, goods unused")
    await claims_bot.settled()
    assert await all_claims(claims_bot.db) == []
    [ask] = fake_telegram.texts_to(ACME_CHAT)
    assert "photo or video" in ask
    await say(claims_bot, ACME_CHAT, "I don't have one right now")
    await claims_bot.settled()
    assert await all_claims(claims_bot.db) == []
    assert "photo or video" in fake_telegram.texts_to(ACME_CHAT)[-1]

    await send_photo(claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(50)), file_id="E0")
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert (claim.order_number, claim.quantity_affected, claim.unused) == ("PO-2026-0117", 5, True)
    assert claim.number in fake_telegram.texts_to(ACME_CHAT)[-1]


async def test_a_retried_webhook_never_opens_a_second_claim(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    data = jpeg(photo(60))
    fake_telegram.add_file("R0", data)
    update = message_update(
        ACME_CHAT, caption="PO-2026-0117 zipper broken", photo_file_id="R0", photo_size=len(data)
    )
    for _ in range(3):
        assert (await claims_bot.post_telegram(update)).status == 200
    await claims_bot.settled()
    assert len(await all_claims(claims_bot.db)) == 1
    assert len(fake_telegram.texts_to(ACME_CHAT)) == 1
    async with claims_bot.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(ClaimEvidence))).scalar_one() == 1


async def test_duplicate_photo_in_another_claim_is_flagged_to_staff(
    claims_bot_any_db: Any, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db
    original = photo(70)
    await send_photo(
        claims_bot, fake_telegram, ACME_CHAT, jpeg(original), caption="PO-2026-0117 strap torn", file_id="F0"
    )
    await claims_bot.settled()
    # Another client sends the same photo, slightly altered and re-encoded as PNG: a different file.
    await send_photo(
        claims_bot,
        fake_telegram,
        HAILANG_CHAT,
        png(altered(original)),
        caption="PO-2026-0200 拉链坏了",
        file_id="F1",
    )
    # An unrelated photo is not flagged.
    await send_photo(
        claims_bot, fake_telegram, HAILANG_CHAT, jpeg(photo(71)), caption="PO-2026-0200 破了", file_id="F2"
    )
    await claims_bot.settled()
    first, second = (await all_claims(claims_bot.db))[:2]
    assert first.evidence[0].sha256 != second.evidence[0].sha256
    pages = [c.params.get("caption") or c.params.get("text") or "" for c in pages_to(fake_telegram, QC_CHAT)]
    flagged = [p for p in pages if f"Same photo as {first.number}" in p]
    assert len(flagged) == 1 and second.number in flagged[0]
    notes = [e.note or "" for e in second.events]
    assert any(f"same photo as {first.number}" in n for n in notes)
    assert "claim_duplicate_evidence" in await audit_actions(claims_bot.db, second.number)
    assert not any("same photo" in (e.note or "") for e in first.events)
    # the client is not told about someone else's claim
    assert not any(first.number in t for t in fake_telegram.texts_to(HAILANG_CHAT))


async def test_status_of_a_claim_only_for_its_own_client(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(80)), caption="PO-2026-0117 strap torn", file_id="G0"
    )
    await claims_bot.settled()
    number = first_claim_no()
    await say(claims_bot, ACME_CHAT, f"status of {number}")
    await say(claims_bot, HAILANG_CHAT, f"{number} 状态")
    await claims_bot.settled()
    mine = fake_telegram.texts_to(ACME_CHAT)[-1]
    assert number in mine and "submitted" in mine and "History" in mine
    theirs = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert "未找到" in theirs and "PO-2026-0117" not in theirs and "strap" not in theirs


async def test_more_photos_for_a_claim_later(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await send_photo(
        claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(90)), caption="PO-2026-0117 strap torn", file_id="H0"
    )
    await claims_bot.settled()
    await say(claims_bot, ACME_CHAT, "thanks")  # ends the short joining window
    await claims_bot.settled()
    number = first_claim_no()
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        jpeg(photo(91)),
        caption=f"more photos for {number}",
        file_id="H1",
    )
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    assert len(claim.evidence) == 2
    assert f"Added to {number}" in fake_telegram.texts_to(ACME_CHAT)[-1]
    pages = [
        c.params.get("caption") or "" for c in pages_to(fake_telegram, QC_CHAT) if c.method == "sendPhoto"
    ]
    assert any(f"More evidence for {number}" in p for p in pages)


async def test_unverified_contact_can_claim_but_sees_no_order_data(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await send_photo(
        claims_bot,
        fake_telegram,
        STRANGER_CHAT,
        jpeg(photo(100)),
        caption="PO-2026-0117 strap torn, unused",
        file_id="S0",
    )
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    # recorded as given, not linked to acme's order of the same number
    assert claim.order_number == "PO-2026-0117" and claim.order_id is None and claim.client_id is None
    assert claim.sku is None
    reply = fake_telegram.texts_to(STRANGER_CHAT)[-1]
    assert claim.number in reply and "BP-220" not in reply and "backpack" not in reply.lower()


async def test_menu_claim_button_starts_the_dialog(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await press(claims_bot, ACME_CHAT, "menu:claim")
    await claims_bot.settled()
    [call] = fake_telegram.sent("sendMessage")
    assert "photos or a video" in call.params["text"]
    assert {b[0]["callback_data"] for b in call.params["reply_markup"]["inline_keyboard"]} == {
        "PO-2026-0117",
        "PO-2026-0123",
    }
    await send_photo(
        claims_bot,
        fake_telegram,
        ACME_CHAT,
        jpeg(photo(110)),
        caption="PO-2026-0117 torn strap",
        file_id="M0",
    )
    await claims_bot.settled()
    assert (await one_claim(claims_bot.db)).order_number == "PO-2026-0117"


async def test_claim_numbers_count_up_per_year(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    for i in range(2):
        await send_photo(
            claims_bot,
            fake_telegram,
            ACME_CHAT,
            jpeg(photo(120 + i)),
            caption=f"PO-2026-0117 torn #{i}",
            file_id=f"N{i}",
        )
        await claims_bot.settled()
        await say(claims_bot, ACME_CHAT, "ok thanks")
        await claims_bot.settled()
    numbers = [c.number for c in await all_claims(claims_bot.db)]
    assert numbers == [f"CLM-{YEAR}-000001", f"CLM-{YEAR}-000002"]
    assert all(re.fullmatch(r"CLM-\d{4}-\d{6}", n) for n in numbers)
    async with claims_bot.db.read() as s:
        kinds = list((await s.execute(select(OutboxRow.kind))).scalars())
    assert "alert" in kinds and "reply" in kinds


async def test_a_video_is_evidence_too(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    clip = b"\x00\x00\x00\x18ftypmp42" + b"zipper video" * 500
    fake_telegram.add_file("VID1", clip)
    update = message_update(ACME_CHAT, caption="PO-2026-0117 zipper broken, 2 pcs, unused")
    update["message"]["video"] = {
        "file_id": "VID1",
        "file_unique_id": "v1",
        "width": 640,
        "height": 480,
        "duration": 4,
        "mime_type": "video/mp4",
        "file_size": len(clip),
    }
    assert (await claims_bot.post_telegram(update)).status == 200
    await claims_bot.settled()
    claim = await one_claim(claims_bot.db)
    [ev] = claim.evidence
    assert ev.mime == "video/mp4" and ev.phash is None and ev.sha256 == hashlib.sha256(clip).hexdigest()
    [page] = [c for c in pages_to(fake_telegram, QC_CHAT) if c.method == "sendDocument"]
    assert page.files["document"] == clip and claim.number in page.params["caption"]
    # Telegram staff get one-tap buttons for the next step
    assert "/claim 1 qc pass" in str(page.params["reply_markup"])


async def test_cancel_while_collecting(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await say(claims_bot, ACME_CHAT, "a strap is torn")
    await say(claims_bot, ACME_CHAT, "cancel")
    await claims_bot.settled()
    assert "nothing was submitted" in fake_telegram.texts_to(ACME_CHAT)[-1]
    await send_photo(claims_bot, fake_telegram, ACME_CHAT, jpeg(photo(130)), file_id="Q0")
    await claims_bot.settled()
    assert "Which order" in fake_telegram.texts_to(ACME_CHAT)[-1]  # a fresh start, not the old draft
    assert await all_claims(claims_bot.db) == []


async def test_status_of_my_claim_without_a_number(claims_bot: Any, fake_telegram: FakeTelegram) -> None:
    await say(claims_bot, HAILANG_CHAT, "我的索赔进度怎么样？")
    await claims_bot.settled()
    assert "目前没有您的索赔记录" in fake_telegram.texts_to(HAILANG_CHAT)[-1]
    await send_photo(
        claims_bot, fake_telegram, HAILANG_CHAT, jpeg(photo(140)), caption="PO-2026-0200 破了", file_id="T0"
    )
    await claims_bot.settled()
    await say(claims_bot, HAILANG_CHAT, "我的索赔进度怎么样？")
    await claims_bot.settled()
    answer = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert first_claim_no() in answer and "已提交" in answer and "处理记录" in answer


async def test_digit_two_after_the_menu_is_report_a_defect(
    claims_bot: Any, fake_telegram: FakeTelegram
) -> None:
    await say(claims_bot, HAILANG_CHAT, "你好")
    await claims_bot.settled()
    await say(claims_bot, HAILANG_CHAT, "2")
    await claims_bot.settled()
    prompt = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    assert "照片或视频" in prompt
    await say(claims_bot, HAILANG_CHAT, "1")  # the first of the offered orders
    await claims_bot.settled()
    async with claims_bot.db.read() as s:
        conv = (await s.execute(select(Conversation))).scalars().first()
    assert conv is not None and conv.dialog == "claim" and conv.dialog_state["order_number"] == "PO-2026-0200"
