"""The perceptual hash tells a reused photo from a different one, on real images made with Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageFilter

from handlers.claims.phash import NEAR_DUPLICATE_DISTANCE, distance, informative, near_duplicate, phash_of
from tests.claim_fixtures import altered, jpeg, photo, png


def test_same_photo_reencoded_resized_or_marked_is_near() -> None:
    original = photo(1)
    h = phash_of(jpeg(original))
    assert h is not None and len(h) == 16
    variants = [
        jpeg(original, quality=40),
        png(original),
        jpeg(original.resize((240, 180))),
        png(altered(original)),
        jpeg(original.filter(ImageFilter.GaussianBlur(1))),
    ]
    for data in variants:
        other = phash_of(data)
        assert other is not None and near_duplicate(h, other), distance(h, other or h)


def test_different_photos_are_far_apart() -> None:
    hashes = [phash_of(jpeg(photo(seed))) for seed in range(2, 12)]
    assert all(hashes)
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert distance(a, b) > NEAR_DUPLICATE_DISTANCE  # type: ignore[arg-type]
            assert not near_duplicate(a, b)


def test_reads_files_by_path(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg(photo(3)))
    assert phash_of(path) == phash_of(path.read_bytes())


def test_not_an_image_has_no_hash() -> None:
    assert phash_of(b"%PDF-1.4 not a photo") is None
    assert phash_of(b"") is None


def test_flat_pictures_never_count_as_duplicates() -> None:
    white = phash_of(jpeg(Image.new("RGB", (200, 200), "white")))
    grey = phash_of(jpeg(Image.new("RGB", (300, 100), (90, 90, 90))))
    assert white is not None and grey is not None
    assert not informative(white) and not near_duplicate(white, grey)
