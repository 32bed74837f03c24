"""Claim photos checked as they arrive, through every channel's real route: Telegram (fake Bot API),
WhatsApp (fake Twilio), WeChat (fake API) and email (real Dovecot, aiosmtpd). Real JPEGs made with
Pillow: sharp, blurred, too small (tests/evidence_photos.py).

What the client notices: a retake request, in their language and saying why, for exactly the
bad photos; the next missing shot asked by name until the list is complete; "that's all I
have" ending the asking. What QC notices: each photo's shot and quality on the page, the API
and the console.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.web.console.passwords import set_password
from handlers.claims.quality import MIN_SHARPNESS
from tests.bot.web.console.test_views import login
from tests.channels.test_email import ACME, HAILANG, mail
from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    QC_CHAT,
    claims_bot,
    claims_bot_any_db,
    say,
    send_photo,
)
from tests.conftest import BotHarness
from tests.evidence_photos import blurry_photo, sharp_photo, small_photo
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio, inbound_form
from tests.fakes.wechat import FakeWeChat, text_xml
from tests.handlers.claims.test_dialog_channels import (
    WA_ACME,
    WA_QC,
    WX_HAILANG,
    WX_QC,
    wa_claims,
    wa_photo,
    wa_post,
    wx_claims,
    wx_photo,
    wx_post,
)
from tests.handlers.claims.test_dialog_email import QC_MAIL, mail_claims

__all__ = ["claims_bot", "claims_bot_any_db", "dovecot_fixture", "wa_claims", "wx_claims"]
WX_ACME = "oAbC123openid"  # demo client "acme" on WeChat, English
NUMBER = f"CLM-{datetime.now(UTC).year}-000001"
RETAKE = "Please take it again"
RETAKE_ZH = "请重新拍摄"


async def api_claim(bot: BotHarness) -> dict[str, Any]:
    resp = await bot.api("GET", f"/api/claims/{NUMBER}")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def photo_to(
    bot: BotHarness, fake: FakeTelegram, chat: int, data: bytes, file_id: str, **kw: Any
) -> str:
    """Send one photo; the one reply it got."""
    before = len(fake.texts_to(chat))
    await send_photo(bot, fake, chat, data, file_id=file_id, **kw)
    await bot.settled()
    replies = fake.texts_to(chat)[before:]
    assert len(replies) == 1, replies
    return replies[0]


async def test_telegram_retake_for_exactly_the_blurred_and_the_small_photo_then_the_list_completes(
    claims_bot_any_db: BotHarness, fake_telegram: FakeTelegram
) -> None:
    claims_bot = claims_bot_any_db  # SQLite and (when configured) PostgreSQL: the JSON column on both
    caption = "PO-2026-0117 strap torn on 2 pcs, goods unused"  # a strap claim: overall, defect, strap_seam
    opened = await photo_to(claims_bot, fake_telegram, ACME_CHAT, sharp_photo(11), "E1", caption=caption)
    assert NUMBER in opened and RETAKE not in opened
    assert "Next, please send a photo of the defect, close up." in opened and "that's all I have" in opened

    blurred = await photo_to(claims_bot, fake_telegram, ACME_CHAT, blurry_photo(12, radius=3.0), "E2")
    assert f"Added to {NUMBER}: 1 file, 2 in total." in blurred
    assert (
        "This photo (the defect, close up) is blurry. Please take it again: hold the phone still" in blurred
    )
    assert "too small" not in blurred

    small = await photo_to(claims_bot, fake_telegram, ACME_CHAT, small_photo(13), "E3")
    assert "This photo (the defect, close up) is too small (640×480 px; we need at least 1000 px" in small
    assert "not a screenshot" in small and "blurry" not in small

    fine = await photo_to(claims_bot, fake_telegram, ACME_CHAT, sharp_photo(14), "E4")
    assert RETAKE not in fine and "Next, please send a photo of where the strap joins the bag." in fine
    last = await photo_to(claims_bot, fake_telegram, ACME_CHAT, sharp_photo(15, (1000, 750)), "E5")
    assert RETAKE not in last and "Next, please" not in last
    assert "we now have all the photos our QC team needs" in last
    assert sum(RETAKE in t for t in fake_telegram.texts_to(ACME_CHAT)) == 2  # the bad two, nothing else

    claim = await api_claim(claims_bot)
    assert claim["missing_shots"] == [] and claim["no_more_photos"] is False
    evidence = claim["evidence"]
    assert [e["shot"] for e in evidence] == ["overall", "defect", "defect", "defect", "strap_seam"]
    assert [e["quality"]["problems"] for e in evidence] == [[], ["blurry"], ["too_small"], [], []]
    assert [e["quality"]["ok"] for e in evidence] == [True, False, False, True, True]
    for e in evidence:  # the contract's shape
        q = e["quality"]
        assert set(q) == {"width", "height", "sharpness", "ok", "problems"}
        assert (
            isinstance(q["width"], int) and isinstance(q["height"], int) and isinstance(q["sharpness"], float)
        )
    assert [(e["quality"]["width"], e["quality"]["height"]) for e in evidence][2:] == [
        (640, 480),
        (1600, 1200),
        (1000, 750),
    ]
    assert evidence[1]["quality"]["sharpness"] < MIN_SHARPNESS <= evidence[0]["quality"]["sharpness"]

    qc = "\n".join(fake_telegram.texts_to(QC_CHAT))
    assert (
        "Photo 1: overall · 1600×1200 px · sharpness" in qc
        and "Shots still missing: defect, strap_seam" in qc
    )
    assert "Photo 2: defect · 1600×1200 px" in qc and "blurry (client asked to retake)" in qc
    assert "Photo 3: defect · 640×480 px" in qc and "too small (client asked to retake)" in qc
    assert "All shots arrived." in qc

    # the console's claim page: each photo with its shot and quality
    await set_password(claims_bot.db, "li", "correct horse battery", actor="test")
    assert (await login(claims_bot, "li", "correct horse battery")).status == 303
    page = await (await claims_bot.client.get(f"/console/claims/{NUMBER}")).text()
    assert "Photo 2: defect · 1600×1200 px" in page and "blurry (client asked to retake)" in page
    assert "All shots arrived." in page


async def test_telegram_chinese_client_is_asked_in_chinese_and_no_more_photos_ends_the_asking(
    claims_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    caption = "PO-2026-0200 拉链坏了 10个 未使用"  # a zipper claim: overall, zipper_closeup, puller
    opened = await photo_to(claims_bot, fake_telegram, HAILANG_CHAT, sharp_photo(21), "Z1", caption=caption)
    assert f"您的索赔编号是 {NUMBER}" in opened and RETAKE_ZH not in opened
    assert "接下来请发送：拉链特写。" in opened and "没有了" in opened

    blurred = await photo_to(claims_bot, fake_telegram, HAILANG_CHAT, blurry_photo(22, radius=5.0), "Z2")
    assert "这张照片（拉链特写）很模糊。请重新拍摄：拍摄时请拿稳手机" in blurred and "太小" not in blurred
    small = await photo_to(claims_bot, fake_telegram, HAILANG_CHAT, small_photo(23), "Z3")
    assert "这张照片（拉链特写）太小（640×480 像素；长边至少需要 1000 像素）" in small and RETAKE_ZH in small

    await say(claims_bot, HAILANG_CHAT, "没有了")
    await claims_bot.settled()
    assert "好的，我们就用现有的照片继续处理" in fake_telegram.texts_to(HAILANG_CHAT)[-1]
    claim = await api_claim(claims_bot)
    assert claim["missing_shots"] == ["zipper_closeup", "puller"] and claim["no_more_photos"] is True
    assert claim["state"] == "submitted"  # the claim goes on with what there is
    qc = fake_telegram.texts_to(QC_CHAT)[-1]
    assert f"Client has no more photos for {NUMBER}" in qc
    assert "Shots still missing: zipper_closeup, puller (the client has no more photos)" in qc

    # one more photo after all: added and checked, but the bot asks for no further shot
    later = await photo_to(claims_bot, fake_telegram, HAILANG_CHAT, sharp_photo(24), "Z4")
    assert "接下来" not in later and RETAKE_ZH not in later
    assert (await api_claim(claims_bot))["missing_shots"] == ["puller"]


async def test_whatsapp_retake_caption_names_the_shot_and_thats_all_i_have(
    wa_claims: BotHarness, fake_twilio: FakeTwilio
) -> None:
    async def photo(data: bytes, body: str = "") -> str:
        before = len(fake_twilio.texts_to(WA_ACME))
        await wa_post(wa_claims, wa_photo(fake_twilio, WA_ACME, data, body))
        await wa_claims.settled()
        replies = fake_twilio.texts_to(WA_ACME)[before:]
        assert len(replies) == 1, replies
        return replies[0]

    opened = await photo(sharp_photo(31), "PO-2026-0117 stitching came loose on 3 pcs, unused")
    assert NUMBER in opened and "Next, please send a photo of the defect, close up." in opened
    blurred = await photo(blurry_photo(32, (1000, 750), radius=2.0))
    assert "This photo (the defect, close up) is blurry. Please take it again" in blurred
    # the caption names the shipping mark: that shot, out of order; the defect is still asked for
    mark = await photo(sharp_photo(33), "shipping mark")
    assert RETAKE not in mark and "Next, please send a photo of the defect, close up." in mark

    await wa_post(wa_claims, inbound_form(WA_ACME, "that's all I have"))
    await wa_claims.settled()
    assert "we go ahead with the photos we have" in fake_twilio.texts_to(WA_ACME)[-1]
    assert sum(RETAKE in t for t in fake_twilio.texts_to(WA_ACME)) == 1

    claim = await api_claim(wa_claims)
    assert [e["shot"] for e in claim["evidence"]] == ["overall", "defect", "shipping_mark"]
    assert [e["quality"]["ok"] for e in claim["evidence"]] == [True, False, True]
    assert claim["missing_shots"] == ["defect"] and claim["no_more_photos"] is True
    pages = "\n".join(fake_twilio.texts_to(WA_QC))
    assert "blurry (client asked to retake)" in pages and "Client has no more photos" in pages


async def test_wechat_retake_asked_in_chinese_and_in_english(
    wx_claims: BotHarness, fake_wechat: FakeWeChat
) -> None:
    """WeChat images carry no caption: the claim opens after the dialog; the photos are checked then."""

    async def send(who: str, xml: str) -> list[str]:
        before = len(fake_wechat.texts_to(who))
        await wx_post(wx_claims, xml)
        await wx_claims.settled()
        return fake_wechat.texts_to(who)[before:]

    await send(WX_HAILANG, wx_photo(fake_wechat, WX_HAILANG, sharp_photo(71), "WX_E71"))
    for answer in ("PO-2026-0200 拉链坏了", "10", "是"):  # order and what is wrong, how many, unused
        replies = await send(WX_HAILANG, text_xml(WX_HAILANG, answer))
    assert f"您的索赔编号是 {NUMBER}" in replies[-1] and "接下来请发送：拉链特写。" in replies[-1]
    [blurred] = await send(
        WX_HAILANG, wx_photo(fake_wechat, WX_HAILANG, blurry_photo(72, radius=4.0), "WX_E72")
    )
    assert "这张照片（拉链特写）很模糊。请重新拍摄：拍摄时请拿稳手机" in blurred
    [fine] = await send(WX_HAILANG, wx_photo(fake_wechat, WX_HAILANG, sharp_photo(73), "WX_E73"))
    assert RETAKE_ZH not in fine and "接下来请发送：拉链头。" in fine

    # acme on WeChat, in English: a photo too small, sent to the claim acme opens
    await send(WX_ACME, wx_photo(fake_wechat, WX_ACME, sharp_photo(74), "WX_E74"))
    for answer in ("PO-2026-0117 strap torn", "2", "yes"):
        replies = await send(WX_ACME, text_xml(WX_ACME, answer))
    second = f"CLM-{datetime.now(UTC).year}-000002"
    assert second in replies[-1] and "Next, please send a photo of the defect, close up." in replies[-1]
    [small] = await send(WX_ACME, wx_photo(fake_wechat, WX_ACME, small_photo(75), "WX_E75"))
    assert "This photo (the defect, close up) is too small (640×480 px; we need at least 1000 px" in small

    pages = "\n".join(fake_wechat.texts_to(WX_QC))
    assert "blurry (client asked to retake)" in pages and "too small (client asked to retake)" in pages
    claim = await api_claim(wx_claims)
    assert [e["quality"]["problems"] for e in claim["evidence"]] == [[], ["blurry"], []]
    assert claim["missing_shots"] == ["puller"]


async def test_email_retake_asked_for_the_blurred_attachment_in_english_and_chinese(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    bot = await mail_claims(harness_factory, tmp_path, db_url, dovecot, smtp)
    raw, _ = mail(
        "The straps are torn on 6 pcs of PO-2026-0117. The goods are unused.",
        subject="Torn straps",
        files=[("image/jpeg", "bag.jpg", sharp_photo(81)), ("image/jpeg", "strap.jpg", blurry_photo(82))],
    )
    await append(dovecot, raw)
    [opened] = await smtp.wait_to(ACME)
    assert NUMBER in opened.text
    assert (
        "Photo 2 (the defect, close up) is blurry. Please take it again: hold the phone still" in opened.text
    )
    assert "Photo 1" not in opened.text and "that's all I have" in opened.text

    raw, _ = mail(
        "PO-2026-0200 拉链坏了 10个 未使用",
        sender=HAILANG,
        subject="拉链问题",
        files=[("image/jpeg", "zip.jpg", blurry_photo(83, radius=5.0))],
    )
    await append(dovecot, raw)
    [zh] = await smtp.wait_to(HAILANG)
    assert "这张照片（整个包的正面照）很模糊。请重新拍摄：拍摄时请拿稳手机" in zh.text
    await bot.settled()
    pages = await smtp.wait_to(QC_MAIL, 2)
    assert all("blurry (client asked to retake)" in p.text for p in pages)
