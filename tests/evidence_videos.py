"""Claim videos for the checks: real small MP4s made by Debian's ffmpeg (a test pattern with a timer).

Made once per process and cached; skipped without ffmpeg (failed with AFTERSALES_REQUIRE_FFMPEG,
which CI sets).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def need_ffmpeg() -> None:
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    if os.environ.get("AFTERSALES_REQUIRE_FFMPEG"):
        pytest.fail("ffmpeg/ffprobe are required here (AFTERSALES_REQUIRE_FFMPEG): apt install ffmpeg")
    pytest.skip("no ffmpeg/ffprobe (apt install ffmpeg)")


@functools.cache
def mp4(seconds: float, size: tuple[int, int] = (320, 240), rate: int = 10) -> bytes:
    """An H.264 MP4 of `seconds`, `size` pixels, `rate` frames a second."""
    need_ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        pattern = f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate={rate}"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-nostdin",
                "-f",
                "lavfi",
                "-i",
                pattern,
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-y",
                str(out),
            ],
            check=True,
            timeout=60,
        )
        return out.read_bytes()


def broken_mp4() -> bytes:
    """What a phone sends when an upload is cut short: the start of an MP4, no index, no frames."""
    return mp4(2.0)[:600]
