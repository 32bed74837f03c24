"""Claim videos checked as they arrive: real MP4s made by ffmpeg, probed by the real ffprobe.

Through the real routes: WhatsApp (fake Twilio; English), Telegram (fake Bot API; a Chinese
client, limits from a claims.toml of the test's own), WeChat (a cut-off video, in Chinese) and
email (real Dovecot; a video attachment too long). What the client notices: a retake request,
in their language and saying why, for exactly the bad videos (too long, too large, unreadable).
What QC notices: each video's length and size on the page and the API, and a frame of it on the
console's claim page. And the prober itself: limits read from the file, a hostile playlist never
opened, the time limit kept, off without ffprobe.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from bot.tools.demo import seed
from bot.web.console.passwords import set_password
from config.settings import ClaimsSettings, ConfigError, MediaSettings
from handlers.claims.video import Limits, VideoProbe, assess, limits
from tests.bot.web.console.test_views import login
from tests.channels.test_email import ACME, mail
from tests.claim_fixtures import HAILANG_CHAT, QC_CHAT, one_claim, seed_orders, seed_staff, send_photo
from tests.conftest import BotHarness, make_settings, telegram_settings
from tests.evidence_photos import sharp_photo
from tests.evidence_videos import broken_mp4, mp4, need_ffmpeg
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp
from tests.fakes.telegram import FakeTelegram, message_update
from tests.fakes.twilio import FakeTwilio, inbound_form, new_sid
from tests.fakes.wechat import FakeWeChat, message_xml, next_msg_id, text_xml
from tests.handlers.claims.test_dialog_channels import (
    WA_ACME,
    WA_QC,
    WX_HAILANG,
    wa_claims,
    wa_photo,
    wa_post,
    wx_harness,
    wx_post,
)
from tests.handlers.claims.test_dialog_email import QC_MAIL, mail_claims

__all__ = ["dovecot_fixture", "wa_claims"]
RETAKE = "Please record it again"


def wa_video(fake: FakeTwilio, sender: str, data: bytes, body: str = "") -> list[tuple[str, str]]:
    sid = new_sid("MM")
    return inbound_form(
        sender, body, sid=sid, media=[(fake.add_media(data, "video/mp4", message_sid=sid), "video/mp4")]
    )


async def test_whatsapp_long_and_broken_videos_are_kept_and_asked_again_and_qc_sees_a_frame(
    wa_claims: BotHarness, fake_twilio: FakeTwilio
) -> None:
    need_ffmpeg()
    health = await (await wa_claims.client.get("/healthz")).json()
    assert health["details"]["video"] == "on"

    async def send(form: list[tuple[str, str]]) -> str:
        before = len(fake_twilio.texts_to(WA_ACME))
        await wa_post(wa_claims, form)
        await wa_claims.settled()
        replies = fake_twilio.texts_to(WA_ACME)[before:]
        assert len(replies) == 1, replies
        return replies[0]

    opened = await send(
        wa_photo(fake_twilio, WA_ACME, sharp_photo(51), "PO-2026-0117 stitching came loose on 2 pcs, unused")
    )
    number = one_claim_number(opened)
    good, long, broken = mp4(5.0), mp4(65.0, (160, 120), 1), broken_mp4()

    fine = await send(wa_video(fake_twilio, WA_ACME, good))
    assert f"Added to {number}: 1 file, 2 in total." in fine and RETAKE not in fine
    too_long = await send(wa_video(fake_twilio, WA_ACME, long))
    assert (
        "This video is too long (65 s; at most 60 s, please). "
        "Please record it again: a short clip of the defect is enough." in too_long
    )
    unplayable = await send(wa_video(fake_twilio, WA_ACME, broken))
    assert "This video could not be played. Please record it again: send it again as a video" in unplayable
    assert "too long" not in unplayable
    assert sum(RETAKE in t for t in fake_twilio.texts_to(WA_ACME)) == 2  # the bad two, nothing else

    # all kept, each with its check; the good one's frame is in the media store
    claim = await (await wa_claims.api("GET", f"/api/claims/{number}")).json()
    videos = [e for e in claim["evidence"] if e["mime"] == "video/mp4"]
    assert [e["sha256"] for e in videos] == [hashlib.sha256(d).hexdigest() for d in (good, long, broken)]
    q = videos[0]["quality"]
    assert (q["kind"], q["width"], q["height"], q["duration_seconds"], q["bytes"]) == (
        "video",
        320,
        240,
        5.0,
        len(good),
    )
    assert q["ok"] is True and q["problems"] == [] and q["thumbnail"]
    assert [v["quality"]["problems"] for v in videos] == [[], ["too_long"], ["unreadable"]]
    assert videos[2]["quality"]["thumbnail"] is None
    frame = Path(wa_claims.settings.media.dir) / q["thumbnail"][:2] / q["thumbnail"]
    assert frame.read_bytes()[:2] == b"\xff\xd8"  # a JPEG, beside the media
    assert all(v["shot"] is None for v in videos)  # videos fill no shot of the photo list
    assert claim["missing_shots"] == ["defect", "shipping_mark"]

    pages = "\n".join(fake_twilio.texts_to(WA_QC))
    assert "Video 2: 5 s · 320×240 px · 0.1 MB · OK" in pages
    assert "Video 3: 65 s · 160×120 px" in pages and "too long (client asked to retake)" in pages
    assert "Video 4: 0 s · 0×0 px · 0.0 MB · unreadable (client asked to retake)" in pages

    # the console's claim page: the frame in the video's place, linking to the video
    await set_password(wa_claims.db, "li", "correct horse battery", actor="test")
    assert (await login(wa_claims, "li", "correct horse battery")).status == 303
    page = await (await wa_claims.client.get(f"/console/claims/{number}")).text()
    assert "Video 2: 5 s · 320×240 px" in page and "too long (client asked to retake)" in page
    thumbs = re.findall(r'<img src="(/media/[^"]+thumbnail\.jpg)"', page)
    assert len(thumbs) == 2  # the good and the long one; the broken one has no frame
    served = await wa_claims.client.get(thumbs[0])
    assert served.status == 200 and served.content_type == "image/jpeg"
    assert await served.read() == frame.read_bytes()


def one_claim_number(text: str) -> str:
    m = re.search(r"CLM-\d{4}-\d{6}", text)
    assert m, text
    return m.group(0)


@pytest_asyncio.fixture
async def small_limits_bot(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> BotHarness:
    shots = Path("config/claims.toml").read_text(encoding="utf-8")
    shots = shots.replace("max_bytes = 16_000_000", "max_bytes = 40_000")
    (tmp_path / "claims.toml").write_text(shots, encoding="utf-8")
    claims = ClaimsSettings(ocr=False, shots_file=str(tmp_path / "claims.toml"))
    bot = await harness_factory(
        make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram), claims=claims)
    )
    await seed(bot.db)
    await seed_orders(bot.db)
    await seed_staff(bot.db)
    return bot


async def send_video(bot: BotHarness, fake: FakeTelegram, chat: int, data: bytes, file_id: str) -> None:
    fake.add_file(file_id, data)
    update = message_update(chat)
    update["message"]["video"] = {
        "file_id": file_id,
        "file_unique_id": file_id.lower(),
        "width": 640,
        "height": 480,
        "duration": 5,
        "mime_type": "video/mp4",
        "file_size": len(data),
    }
    assert (await bot.post_telegram(update)).status == 200
    await bot.settled()


async def test_telegram_chinese_client_is_asked_in_chinese_for_a_smaller_video_by_the_files_limit(
    small_limits_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    need_ffmpeg()
    bot = small_limits_bot
    await send_photo(
        bot,
        fake_telegram,
        HAILANG_CHAT,
        sharp_photo(61),
        caption="PO-2026-0200 拉链坏了 10个 未使用",
        file_id="ZP1",
    )
    await bot.settled()
    small, large = mp4(2.0, (160, 120), 5), mp4(8.0, (640, 480), 25)
    assert len(small) < 40_000 < len(large)
    await send_video(bot, fake_telegram, HAILANG_CHAT, small, "ZV1")
    assert "请重新录制" not in fake_telegram.texts_to(HAILANG_CHAT)[-1]
    await send_video(bot, fake_telegram, HAILANG_CHAT, large, "ZV2")
    told = fake_telegram.texts_to(HAILANG_CHAT)[-1]
    size = f"{len(large) / 1e6:.1f}"
    assert f"这段视频太大（{size} MB；最多 0.04 MB）。请重新录制：录一段更短的视频，或用较低的画质" in told
    claim = await one_claim(bot.db)
    assert [(e.quality or {}).get("problems") for e in claim.evidence] == [[], [], ["too_large"]]
    assert "too large (client asked to retake)" in fake_telegram.texts_to(QC_CHAT)[-1]


async def test_without_ffprobe_videos_are_kept_unchecked_and_healthz_says_so(
    wa_claims: BotHarness, fake_twilio: FakeTwilio, harness_factory: Any, tmp_path: Path, db_url: str
) -> None:
    settings = replace(
        wa_claims.settings, claims=ClaimsSettings(ocr=False, ffprobe_cmd=str(tmp_path / "none"))
    )
    bot = await harness_factory(settings)
    health = await (await bot.client.get("/healthz")).json()
    assert health["status"] == "ok" and health["details"]["video"].startswith("off: ffprobe not found")
    await wa_post(
        bot, wa_video(fake_twilio, WA_ACME, broken_mp4(), "PO-2026-0117 zipper broken on 2 pcs, unused")
    )
    await bot.settled()
    claim = await one_claim(bot.db)
    [ev] = claim.evidence
    assert ev.mime == "video/mp4" and ev.quality is None
    assert (
        claim.number in fake_twilio.texts_to(WA_ACME)[-1] and RETAKE not in fake_twilio.texts_to(WA_ACME)[-1]
    )


async def test_wechat_a_cut_off_video_is_asked_again_in_chinese(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_wechat: FakeWeChat
) -> None:
    """WeChat sends a video as a link to its own host; the fake serves a cut-off MP4 there."""
    need_ffmpeg()
    media = MediaSettings(dir=str(tmp_path / "media"), allow_loopback=True, allowed_hosts=["127.0.0.1"])
    bot = await wx_harness(harness_factory, tmp_path, db_url, fake_wechat, media=media)
    fake_wechat.add_media_json("WX_V1", {"video_url": f"{fake_wechat.url}/video/v1.mp4"})
    await wx_post(
        bot, message_xml(WX_HAILANG, "video", MediaId="WX_V1", ThumbMediaId="T", MsgId=next_msg_id())
    )
    await bot.settled()
    for answer in ("PO-2026-0200 拉链坏了", "10", "是"):  # order and what is wrong, how many, unused
        await wx_post(bot, text_xml(WX_HAILANG, answer))
        await bot.settled()
    opened = fake_wechat.texts_to(WX_HAILANG)[-1]
    assert "您的索赔编号是" in opened
    assert "这段视频无法播放。请重新录制：请用手机相机重新发送视频（MP4）。" in opened
    claim = await one_claim(bot.db)
    assert [(e.quality or {}).get("problems") for e in claim.evidence] == [["unreadable"]]


async def test_email_a_too_long_video_attachment_is_asked_again(
    harness_factory: Any, tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    need_ffmpeg()
    await mail_claims(harness_factory, tmp_path, db_url, dovecot, smtp)
    raw, _ = mail(
        "The zipper is broken on 2 pcs of PO-2026-0117, unused. Video attached.",
        subject="Zipper video",
        files=[("video/mp4", "zipper.mp4", mp4(65.0, (160, 120), 1))],
    )
    await append(dovecot, raw)
    [opened] = await smtp.wait_to(ACME)
    assert "This video is too long (65 s; at most 60 s, please). Please record it again" in opened.text
    [page] = await smtp.wait_to(QC_MAIL)
    assert "Video 1: 65 s · 160×120 px" in page.text and "too long (client asked to retake)" in page.text


# ---- the prober and the limits ------------------------------------------------------------------


async def probe_bytes(tmp_path: Path, data: bytes, **kw: Any) -> Any:
    path = tmp_path / "clip"
    path.write_bytes(data)
    return await VideoProbe(tmp_path / "media", **kw).probe(str(path), hashlib.sha256(data).hexdigest())


async def test_the_probe_reads_length_and_size_and_keeps_a_frame(tmp_path: Path) -> None:
    need_ffmpeg()
    data = mp4(3.0, (640, 360))
    found = await probe_bytes(tmp_path, data)
    assert (found.readable, found.width, found.height, found.duration, found.size) == (
        True,
        640,
        360,
        3.0,
        len(data),
    )
    frame = tmp_path / "media" / found.thumbnail[:2] / found.thumbnail
    from PIL import Image

    with Image.open(frame) as img:
        assert img.format == "JPEG" and img.size == (480, 270)  # at most 480 px, the video's proportions
    assert assess(found, Limits()).ok
    assert assess(found, Limits(max_seconds=2.5)).problems == ["too_long"]
    assert assess(found, Limits(max_bytes=len(data) - 1)).problems == ["too_large"]


async def test_a_playlist_posing_as_a_video_is_never_followed(tmp_path: Path) -> None:
    need_ffmpeg()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    playlist = f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    found = await probe_bytes(tmp_path, playlist)
    assert found.readable is False and found.thumbnail is None
    assert assess(found, Limits()).problems == ["unreadable"]


async def test_videos_are_probed_before_the_transaction_and_the_check_takes_the_result(
    tmp_path: Path,
) -> None:
    """The engine's media reader probes each inbound video; the check later finds it in the cache."""
    need_ffmpeg()
    data = mp4(2.0)
    path = tmp_path / "clip"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    probe = VideoProbe(tmp_path / "media")
    clip = Attachment(AttachmentKind.VIDEO, "video/mp4", sha256=sha, stored_path=str(path), size=len(data))
    photo = Attachment(AttachmentKind.PHOTO, "image/jpeg", sha256="0" * 64, stored_path=str(path))
    await probe.prepare(InboundMessage(Channel.WHATSAPP, WA_ACME, "SM1", attachments=[clip, photo]))
    path.unlink()  # a second ffprobe run would now find nothing
    found = await probe.probe(str(path), sha)
    assert found is not None and found.readable and found.duration == 2.0
    assert await probe.probe(str(path), "0" * 64) is None  # the photo was never probed


async def test_past_the_time_limit_the_probe_is_stopped_and_the_video_unchecked(tmp_path: Path) -> None:
    need_ffmpeg()
    assert await probe_bytes(tmp_path, mp4(3.0), timeout_seconds=0.001) is None


def test_the_prober_is_off_without_ffprobe_or_when_disabled(tmp_path: Path) -> None:
    assert VideoProbe(tmp_path, ffprobe_cmd=str(tmp_path / "none")).status.startswith(
        "off: ffprobe not found"
    )
    assert VideoProbe(tmp_path, enabled=False).status.startswith("off: disabled")
    assert not VideoProbe(tmp_path, enabled=False).on


def test_limits_come_from_the_shots_file_and_mistakes_are_named() -> None:
    assert limits({}) == Limits(60.0, 16_000_000)
    assert limits({"video": {"max_seconds": 30, "max_bytes": 8_000_000}}) == Limits(30.0, 8_000_000)
    for bad in ({"max_seconds": 0}, {"max_seconds": "60"}, {"max_bytes": 1.5}, {"max_bytes": True}):
        with pytest.raises(ConfigError, match=r"video\.max_"):
            limits({"video": bad}, "x.toml")
    from handlers.claims.checks import EvidenceRules

    assert EvidenceRules.from_settings(ClaimsSettings()).video == Limits(
        60.0, 16_000_000
    )  # config/claims.toml
