"""Is a claim photo good enough for QC to judge? Its size, and how sharp it is.

QC's first answer to most claims used to be "please send a sharper photo": measured when
the photo arrives, the client can be asked again while they still hold the bag.

Sharpness is the variance of the Laplacian of a grey copy downscaled to at most
ANALYSIS_EDGE pixels on its long side (so a phone's 4000 px photo and a 1200 px one are
judged at the same scale): a sharp photo has strong, varied second derivatives at every
edge, a blurred one has almost none. Pillow only: the 3x3 kernel runs twice on an 8-bit
image (its positive and its negative half, each divided by 4 so nothing clips) and
ImageStat sums both. The threshold and the data it comes from: docs/evidence-quality.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageFilter, ImageOps, ImageStat

ANALYSIS_EDGE = 1000  # long edge of the grey copy the Laplacian runs on
MIN_LONG_EDGE = 1000  # default of claims.min_long_edge
MIN_SHARPNESS = 40.0  # default of claims.min_sharpness, calibrated in docs/evidence-quality.md
_HALF = [0, 1, 0, 1, -4, 1, 0, 1, 0]
MAX_DECODED_PIXELS = 64_000_000  # other than JPEG (decoded at a fraction), larger is not opened
_ORIENTATION = 0x0112  # EXIF tag
_POSITIVE = ImageFilter.Kernel((3, 3), _HALF, scale=4, offset=0)
_NEGATIVE = ImageFilter.Kernel((3, 3), [-k for k in _HALF], scale=4, offset=0)


@dataclass(frozen=True)
class Rules:
    min_long_edge: int = MIN_LONG_EDGE
    min_sharpness: float = MIN_SHARPNESS


@dataclass(frozen=True)
class Quality:
    width: int
    height: int
    sharpness: float
    problems: list[str] = field(default_factory=list)  # "too_small", "blurry", "unreadable"

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "sharpness": self.sharpness,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def sharpness(img: Image.Image) -> float:
    """Variance of the Laplacian of `img` as grey, downscaled to at most ANALYSIS_EDGE on its long side."""
    grey = img.convert("L")
    grey.thumbnail((ANALYSIS_EDGE, ANALYSIS_EDGE), Image.Resampling.BOX)
    if grey.width < 3 or grey.height < 3:
        return 0.0
    inner = (1, 1, grey.width - 1, grey.height - 1)  # Pillow leaves the border pixels unfiltered
    n = (grey.width - 2) * (grey.height - 2)
    pos = ImageStat.Stat(grey.filter(_POSITIVE).crop(inner))
    neg = ImageStat.Stat(grey.filter(_NEGATIVE).crop(inner))
    # The halves never overlap (one is 0 where the other is not): sums of the Laplacian / 4 follow.
    mean = (pos.sum[0] - neg.sum[0]) / n
    square = (pos.sum2[0] + neg.sum2[0]) / n
    return round(16 * max(0.0, square - mean * mean), 1)


def assess(width: int, height: int, sharp: float, rules: Rules) -> Quality:
    problems = []
    if max(width, height) < rules.min_long_edge:
        problems.append("too_small")
    if sharp < rules.min_sharpness:
        problems.append("blurry")
    return Quality(width, height, sharp, problems)


def measure(path: str, rules: Rules) -> Quality:
    """The quality of the stored photo at `path` (blocking: run it off the event loop)."""
    try:
        with Image.open(path) as img:
            width, height = img.size  # the photo's own size, before a draft shrinks the decode
            if img.format != "JPEG" and width * height > MAX_DECODED_PIXELS:
                return Quality(width, height, 0.0, ["unreadable"])
            if img.getexif().get(_ORIENTATION) in (5, 6, 7, 8):  # shown turned by 90° or 270°
                width, height = height, width
            img.draft("L", (ANALYSIS_EDGE, ANALYSIS_EDGE))  # JPEG: decoded at 1/2, 1/4, 1/8 when big
            return assess(width, height, sharpness(ImageOps.exif_transpose(img)), rules)
    except (OSError, ValueError, Image.DecompressionBombError):
        return Quality(0, 0, 0.0, ["unreadable"])
