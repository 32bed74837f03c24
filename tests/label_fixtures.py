"""Carton labels drawn with Pillow, as clients photograph them: a shipping mark on kraft board.

Each seed gives another font, size, layout, slight rotation, blur and grain; the order
number sits among the usual marks (consignee, SKU, CTN 12/100, 箱号, weights, MADE IN CHINA).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_LATIN = [
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSerif-Bold.ttf",
    "dejavu/DejaVuSansMono-Bold.ttf",
    "dejavu/DejaVuSansCondensed-Bold.ttf",
    "dejavu/DejaVuSerif.ttf",
    "wqy/wqy-microhei.ttc",
    "wqy/wqy-zenhei.ttc",
]
_CJK = ["wqy/wqy-microhei.ttc", "wqy/wqy-zenhei.ttc", "arphic/uming.ttc"]
_ROOT = Path("/usr/share/fonts/truetype")


def _present(names: list[str]) -> list[Path]:
    return [_ROOT / n for n in names if (_ROOT / n).exists()]


def fonts() -> tuple[list[Path], list[Path]]:
    """(Latin, Chinese) font files on this system; the test is skipped without any Latin one."""
    latin, cjk = _present(_LATIN), _present(_CJK)
    if not latin:
        pytest.skip("no TrueType fonts in /usr/share/fonts/truetype (fonts-dejavu, fonts-wqy-microhei)")
    return latin, cjk


def need_tesseract() -> None:
    """Skip without Tesseract (English + Simplified Chinese); with AFTERSALES_REQUIRE_TESSERACT, fail."""
    from handlers.claims.ocr import LabelReader

    status = LabelReader().status
    if status != "on":
        if os.environ.get("AFTERSALES_REQUIRE_TESSERACT"):
            pytest.fail(f"Tesseract is required here (AFTERSALES_REQUIRE_TESSERACT): {status}")
        pytest.skip(f"OCR {status} (apt install tesseract-ocr tesseract-ocr-chi-sim)")


def carton_label(
    seed: int, order: str | None, *, sku: str = "BP-220", size: tuple[int, int] | None = None
) -> Image.Image:
    """A photo of a carton's side mark; `order` None draws a label without any order number."""
    rng = random.Random(seed)
    latin, cjk = fonts()
    width, height = size or rng.choice([(1600, 1200), (1280, 960), (2400, 1800), (1200, 1600)])
    kraft = (rng.randint(168, 200), rng.randint(128, 152), rng.randint(82, 108))
    img = Image.new("RGB", (width, height), kraft)
    draw = ImageDraw.Draw(img)
    for _ in range(width * height // 150):  # the board's grain
        x, y, d = rng.randrange(width), rng.randrange(height), rng.randint(-28, 28)
        draw.point((x, y), fill=(kraft[0] + d, kraft[1] + d, kraft[2] + d))
    for _ in range(rng.randint(2, 5)):  # tape edges, scuffs
        x0, y0 = rng.randrange(width), rng.randrange(height)
        draw.line([x0, y0, x0 + rng.randint(-400, 400), y0 + rng.randint(-60, 60)], fill=kraft, width=6)
    font = latin[seed % len(latin)]
    px = int(min(width, height) * rng.uniform(0.045, 0.065))
    face = ImageFont.truetype(str(font), px)
    zh = ImageFont.truetype(str(cjk[seed % len(cjk)]), px) if cjk else None
    po_line = rng.choice(["PO NO.: {}", "ORDER NO. {}", "P/O: {}", "{}"]).format(order) if order else None
    marks = [
        ("SHIP TO: " + rng.choice(["ACME TRADING GMBH", "NORDIC BAGS AB", "HAMBURG PORT"]), face),
        (f"SKU: {sku}", face),
        (f"CTN {seed % 90 + 1}/100", face),
        (rng.choice(["G.W. 8.5KG  N.W. 7.9KG", "MEAS 60x40x35CM"]), face),
    ]
    if zh is not None:
        marks.append((f"箱号 {seed % 90 + 1}  毛重 8.5KG", zh))
    rng.shuffle(marks)
    if po_line:
        marks.insert(rng.randint(0, 2), (po_line, face))
    marks.append(("MADE IN CHINA", face))
    ink = rng.choice([(25, 25, 30), (20, 30, 90), (10, 10, 10)])
    x, y = int(width * rng.uniform(0.05, 0.12)), int(height * rng.uniform(0.06, 0.14))
    for text, f in marks:
        draw.text((x, y), text, font=f, fill=ink)
        y += int(px * rng.uniform(1.5, 1.8))
    img = img.rotate(rng.uniform(-3.5, 3.5), resample=Image.Resampling.BICUBIC, fillcolor=kraft)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.1)))
