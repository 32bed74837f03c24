"""The Tesseract reader: off without Tesseract, a time limit, a scaled-down copy, read once per file."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bot.messages import Attachment, AttachmentKind, Channel, InboundMessage
from handlers.claims.ocr import LabelReader
from tests.label_fixtures import carton_label, need_tesseract


async def test_missing_tesseract_turns_ocr_off(tmp_path: Path) -> None:
    path = tmp_path / "label.jpg"
    carton_label(1, "PO-2026-0117", size=(800, 600)).save(path)
    reader = LabelReader(tesseract_cmd=str(tmp_path / "no-such-tesseract"))
    assert not reader.on and reader.status.startswith("off: tesseract not found")
    assert await reader.health() == reader.status
    assert await reader.read(str(path)) is None  # no error: simply nothing read
    disabled = LabelReader(enabled=False)
    assert not disabled.on and disabled.status == "off: disabled (claims.ocr = false)"


async def test_missing_language_data_turns_ocr_off() -> None:
    need_tesseract()
    reader = LabelReader(languages="eng+klingon")
    assert reader.status == "off: tesseract has no language data for klingon"
    assert LabelReader().status == "on"  # the positive control: English and Simplified Chinese are there


async def test_reading_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "label.jpg"
    carton_label(2, "PO-2026-0117", size=(2400, 1800)).save(path)
    started = time.monotonic()
    assert await LabelReader(timeout_seconds=0.05).read(str(path)) is None
    assert time.monotonic() - started < 3  # stopped, not read to the end
    assert "0117" in (await LabelReader().read(str(path)) or "")  # with time enough it is read


async def test_a_large_photo_is_read_from_a_scaled_down_grey_copy(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "big.jpg"
    carton_label(4, "PO-2026-0123", size=(4000, 3000)).save(path, quality=80)  # a 12 MP phone photo
    text = await LabelReader().read(str(path))
    assert text is not None and "2026" in text


async def test_not_an_image_is_nothing_read(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert await LabelReader().read(str(path)) is None


async def test_prepare_reads_a_messages_photos_once(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "label.jpg"
    carton_label(5, "PO-2026-0117", size=(1200, 900)).save(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    reader = LabelReader()
    inbound = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_user_id="1",
        provider_message_id="m1",
        attachments=[
            Attachment(kind=AttachmentKind.PHOTO, mime="image/jpeg", sha256=sha, stored_path=str(path))
        ],
    )
    await reader.prepare(inbound)
    first = reader.cached(sha)
    assert first is not None and "0117" in first
    path.unlink()  # read again from the cache, not the file
    assert await reader.read(str(path), sha) == first
