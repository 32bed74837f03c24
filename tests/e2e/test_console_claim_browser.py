"""QC's claim page in a real headless Chromium on a phone screen: what Tesseract read, a video's frame.

A claim made through the real Telegram route (fake Bot API, the real Tesseract and ffprobe): a
carton-label photo and a real MP4. The page must show the label's text beside the photo and
the video as its thumbnail, decoded by the browser under the console's CSP, on a phone screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.tools.demo import seed
from bot.web.console.passwords import set_password
from config.settings import ClaimsSettings
from tests.claim_fixtures import ACME_CHAT, jpeg, one_claim, seed_orders, seed_staff, send_photo
from tests.conftest import make_settings, telegram_settings
from tests.e2e.test_console_browser import PASSWORD, SHOTS, fits_the_screen, phone, sign_in
from tests.evidence_videos import mp4, need_ffmpeg
from tests.fakes.telegram import FakeTelegram
from tests.handlers.claims.test_video import send_video
from tests.label_fixtures import carton_label, need_tesseract

__all__ = ["phone"]
SLOW = 90.0  # Tesseract takes a few seconds a photo on a busy machine


async def test_qc_sees_the_label_text_and_the_video_frame_on_a_phone(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, phone: Any
) -> None:
    need_tesseract()
    need_ffmpeg()
    settings = make_settings(
        tmp_path, db_url, telegram=telegram_settings(fake_telegram), claims=ClaimsSettings()
    )
    bot = await harness_factory(settings)
    await seed(bot.db)
    await seed_orders(bot.db)
    await seed_staff(bot.db)  # li: QC
    await set_password(bot.db, "li", PASSWORD, actor="test")

    label = jpeg(carton_label(11, "PO-2026-0117"), quality=85)
    await send_photo(
        bot, fake_telegram, ACME_CHAT, label, caption="zipper broken on 3 pcs, unused", file_id="L11"
    )
    await bot.settled(SLOW)
    await send_video(bot, fake_telegram, ACME_CHAT, mp4(4.0, (640, 360)), "V1")
    claim = await one_claim(bot.db)
    assert claim.order_number == "PO-2026-0117" and len(claim.evidence) == 2

    await sign_in(phone, bot, f"/console/claims/{claim.number}")
    ocr = phone.locator("pre.ocr").first
    assert await ocr.is_visible() and "0117" in await ocr.inner_text()
    assert await phone.is_visible("text=Read on the photo:")
    frame = phone.locator("a.video img").first
    await frame.wait_for()
    await phone.wait_for_function(
        "() => { const i = document.querySelector('a.video img'); return i && i.complete; }"
    )
    assert await frame.evaluate("i => i.naturalWidth") == 480  # the frame, decoded, via its signed link
    assert await phone.is_visible("text=Video 2: 4 s · 640×360 px")
    await fits_the_screen(phone)
    await phone.screenshot(path=str(SHOTS / "console-claim-evidence.png"), full_page=True)
