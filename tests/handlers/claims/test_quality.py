"""The sharpness measure on the calibration set (tests/evidence_photos.py) and the size rule."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from handlers.claims.quality import MIN_SHARPNESS, Rules, measure
from tests.evidence_photos import (
    RADII,
    SCENES,
    SIZES,
    Sample,
    blurry_photo,
    calibration_set,
    scene,
    small_photo,
)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return calibration_set(seeds=(1,))


def test_every_sharp_photo_passes_and_every_clearly_blurred_one_fails(samples: list[Sample]) -> None:
    sharp = [s for s in samples if s.radius == 0]
    blurred = [s for s in samples if s.effective_radius >= 1.5]
    assert len(sharp) == len(SCENES) * len(SIZES) and len(blurred) > len(sharp)
    assert min(s.sharpness for s in sharp) >= MIN_SHARPNESS, [(s.scene, s.size, s.sharpness) for s in sharp]
    too_sharp = [(s.scene, s.size, s.radius, s.sharpness) for s in blurred if s.sharpness >= MIN_SHARPNESS]
    assert not too_sharp
    # the margin the threshold leaves on either side (the docs' table): at least 2x each way
    assert min(s.sharpness for s in sharp) >= 2 * MIN_SHARPNESS
    assert max(s.sharpness for s in blurred) <= MIN_SHARPNESS / 2


def test_sharpness_falls_with_every_step_of_blur(samples: list[Sample]) -> None:
    for kind in SCENES:
        for size in SIZES:
            values = [
                next(s.sharpness for s in samples if (s.scene, s.size, s.radius) == (kind, size, r))
                for r in RADII
            ]
            assert values == sorted(values, reverse=True) and values[0] > 1.5 * values[1], (
                kind,
                size,
                values,
            )


def _stored(tmp_path: Path, data: bytes, name: str = "p.jpg") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_size_and_blur_are_separate_problems(tmp_path: Path) -> None:
    rules = Rules()
    good = measure(_stored(tmp_path, blurry_photo(3, radius=0.0)), rules)
    assert (good.width, good.height, good.ok, good.problems) == (1600, 1200, True, [])
    small = measure(_stored(tmp_path, small_photo(3)), rules)
    assert (small.width, small.height, small.problems) == (640, 480, ["too_small"])
    assert small.sharpness >= MIN_SHARPNESS  # sharp, only small
    blurry = measure(_stored(tmp_path, blurry_photo(3)), rules)
    assert blurry.problems == ["blurry"] and blurry.sharpness < MIN_SHARPNESS
    both = measure(_stored(tmp_path, blurry_photo(3, size=(800, 600), radius=3.0)), rules)
    assert both.problems == ["too_small", "blurry"]
    assert good.as_json() == {
        "width": 1600,
        "height": 1200,
        "sharpness": good.sharpness,
        "ok": True,
        "problems": [],
    }


def test_the_limits_come_from_the_rules(tmp_path: Path) -> None:
    path = _stored(tmp_path, small_photo(4))
    assert measure(path, Rules(min_long_edge=600)).ok
    assert measure(path, Rules(min_long_edge=600, min_sharpness=1e9)).problems == ["blurry"]


def test_a_rotated_phone_photo_is_measured_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    buf = io.BytesIO()
    scene(5, (1200, 800)).save(buf, "JPEG", quality=85, exif=exif)
    q = measure(_stored(tmp_path, buf.getvalue()), Rules())
    assert (q.width, q.height, q.ok) == (800, 1200, True)


def test_a_file_that_is_no_image_is_unreadable_not_an_error(tmp_path: Path) -> None:
    q = measure(_stored(tmp_path, b"\xff\xd8\xff\xe0 not really a jpeg" * 20), Rules())
    assert (q.width, q.height, q.ok, q.problems) == (0, 0, False, ["unreadable"])
