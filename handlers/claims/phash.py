"""Perceptual hashes of claim photos, so a reused or internet photo is recognised.

A difference hash (dHash): the picture shrunk to 9×8 grey pixels, one bit per pair of
neighbours (is the left one brighter?). Re-encoding, resizing, a brightness change or a
small mark flip only a few of the 64 bits; a different photo differs in about half.
Pure functions of the file's bytes: no database, no network.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

BITS = 64
# Up to this many differing bits is "nearly the same photo". Unrelated photos differ in ~32.
NEAR_DUPLICATE_DISTANCE = 10
MAX_PIXELS = 60_000_000


def phash_of(source: bytes | str | Path) -> str | None:
    """16 hex digits for an image, or None when the file is not an image Pillow can read."""
    try:
        if isinstance(source, bytes):
            img = Image.open(io.BytesIO(source))
        else:
            img = Image.open(source)
        with img:
            if img.width * img.height > MAX_PIXELS:
                return None  # no camera photo is this big: a decompression bomb costs us nothing
            img.draft("L", (64, 64))  # JPEG decodes straight at a fraction of its size: fast
            grey = img.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
            pixels = grey.tobytes()  # one byte per pixel in mode "L"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    value = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            value = (value << 1) | (1 if left > right else 0)
    return f"{value:016x}"


def distance(a: str, b: str) -> int:
    """Number of differing bits between two hashes (Hamming distance)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def informative(h: str) -> bool:
    """A blank or flat picture hashes to (almost) all zeros or ones and matches any other flat one."""
    ones = int(h, 16).bit_count()
    return 4 <= ones <= BITS - 4


def near_duplicate(a: str | None, b: str | None, threshold: int = NEAR_DUPLICATE_DISTANCE) -> bool:
    if not a or not b or not informative(a) or not informative(b):
        return False
    return distance(a, b) <= threshold
