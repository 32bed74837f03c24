"""Claim photos for the quality checks: a detailed scene (text, edges, stitches, noise), sharp or blurred.

The calibration set is every scene × size × Gaussian blur radius; its measured sharpness is
the table in docs/evidence-quality.md. Regenerate that table with
`python -m tests.evidence_photos` after changing the measure or the scene.
"""

from __future__ import annotations

import io
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

WORDS = ["PO-2026-0117", "CTN 12/100", "BP-220", "MADE IN CHINA", "G.W. 12.5KG", "N.W. 11KG", "QC PASSED"]
SIZES = [(1000, 750), (750, 1000), (1600, 1200), (3000, 2250)]
RADII = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0]
SCENES = ("busy", "plain")  # a shipping mark with text and lines; a mostly plain bag with a seam


def scene(seed: int, size: tuple[int, int] = (1600, 1200), *, plain: bool = False) -> Image.Image:
    """A deterministic photo-like picture: shaded fabric, outlines, lines, printed text, a seam, noise."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(0, h, 8):  # light falling on fabric: a soft gradient
        shade = int(40 * y / h)
        draw.rectangle([0, y, w, y + 7], fill=(150 - shade, 120 - shade, 90 - shade))
    u = w / 100
    for _ in range(6 if plain else 18):
        x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
        x1, y1 = x0 + rng.uniform(5, 30) * u, y0 + rng.uniform(5, 30) * u
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape([x0, y0, x1, y1], outline=colour, width=max(1, int(u / 3)))
    for _ in range(4 if plain else 25):
        ends = [rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, h)]
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        draw.line(ends, fill=colour, width=max(1, int(u / 4)))
    font = ImageFont.load_default(size=max(10, int(2.6 * u)))
    for _ in range(2 if plain else 8):
        at = (rng.uniform(0, w * 0.6), rng.uniform(0, h * 0.9))
        draw.text(at, rng.choice(WORDS), fill=(10, 10, 10), font=font)
    y = h * 0.7
    for x in range(int(w * 0.1), int(w * 0.9), max(4, int(u))):  # stitches along a seam
        draw.line([x, y, x + u * 0.6, y], fill=(240, 240, 230), width=max(1, int(u / 6)))
    noise = Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB")  # sensor noise, seeded
    return Image.blend(img, noise, 0.04 if plain else 0.08)


def blurred(img: Image.Image, radius: float) -> Image.Image:
    return img if radius == 0 else img.filter(ImageFilter.GaussianBlur(radius))


def jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def sharp_photo(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    return jpeg(scene(seed, size))


def blurry_photo(seed: int, size: tuple[int, int] = (1600, 1200), radius: float = 4.0) -> bytes:
    return jpeg(blurred(scene(seed, size), radius))


def small_photo(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    return jpeg(scene(seed, size))


@dataclass(frozen=True)
class Sample:
    scene: str
    size: tuple[int, int]
    radius: float
    sharpness: float

    @property
    def effective_radius(self) -> float:
        """The blur as it shows on the 1000 px analysis copy: what the measure can see."""
        return self.radius * 1000 / max(max(self.size), 1000)


def calibration_set(seeds: tuple[int, ...] = (1, 2)) -> list[Sample]:
    """Measure every scene, size and radius through the same path as a stored claim photo (a JPEG file)."""
    from handlers.claims.quality import Rules, measure

    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        for kind in SCENES:
            for size in SIZES:
                for seed in seeds:
                    base = scene(seed, size, plain=kind == "plain")
                    for radius in RADII:
                        path.write_bytes(jpeg(blurred(base, radius)))
                        samples.append(Sample(kind, size, radius, measure(str(path), Rules()).sharpness))
    return samples


def markdown_table(samples: list[Sample]) -> str:
    rows = ["| scene | size | " + " | ".join(f"r={r:g}" for r in RADII) + " |"]
    rows.append("|---|---|" + "---:|" * len(RADII))
    keys = sorted({(s.scene, s.size) for s in samples}, key=lambda k: (SCENES.index(k[0]), SIZES.index(k[1])))
    for kind, size in keys:
        cells = []
        for radius in RADII:
            values = [s.sharpness for s in samples if (s.scene, s.size, s.radius) == (kind, size, radius)]
            cells.append(" / ".join(f"{v:.1f}" for v in values))
        rows.append(f"| {kind} | {size[0]}×{size[1]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table(calibration_set()))
