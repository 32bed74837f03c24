"""Finding the order on a carton label: the marks in what was read, and the real Tesseract on drawn labels."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.ids import order_key
from handlers.claims.labels import marks, names, pick
from handlers.claims.ocr import LabelReader
from tests.label_fixtures import carton_label, need_tesseract

OWN = [(1, order_key("PO-2026-0117")), (2, order_key("PO-2026-0123"))]
HIT_RATE_FLOOR = 0.75  # measured: 15 of 16 labels (one read "POQ-2026-…"); 20 of 20 on a quiet machine


def test_marks_on_a_shipping_mark() -> None:
    text = "SHIP TO: ACME\nPO NO.: PO-2026-0117\nSKU: BP-220\nCTN 12/100\n箱号 12  毛重 8.5KG\nMADE IN CHINA"
    found = marks(text)
    assert found["orders"] == ["PO20260117"]  # not the SKU, not the carton
    assert found["skus"] == ["BP-220"]
    assert found["cartons"] == ["12/100", "12"]


def test_marks_in_other_spellings() -> None:
    found = marks("ORDER: ＰＯ－２０２６－０１２３  ITEM NO. TT-100  CARTON NO. 3 OF 40  箱 号：7")
    assert found == {"orders": ["PO20260123"], "skus": ["TT-100"], "cartons": ["3/40", "7"]}
    assert marks("MADE IN CHINA\nFRAGILE") == {"orders": [], "skus": [], "cartons": []}


def test_pick_finds_the_clients_own_order_as_the_chat_does() -> None:
    assert pick("PO NO.: PO-2026-0117", OWN) == 1
    assert pick("po 2026 0123 / SKU BP-300", OWN) == 2
    assert pick("PO-2026-0123\nalso PO-2026-0117", OWN) == 2  # the first on the label


def test_pick_forgives_what_ocr_confuses() -> None:
    assert pick("P0 NO.: P0-2026-O117", OWN) == 1  # O read as 0 and 0 as O
    assert pick("PO-2026-\n0117", OWN) == 1  # split over two lines
    assert pick("PO-2O26-Ol17", OWN) == 1
    assert names("P0-2026-0117 CTN 1/2", "PO-2026-0117")


def test_another_clients_order_is_never_picked() -> None:
    assert pick("PO NO.: PO-2026-0200", OWN) is None  # hailang's order, not in OWN
    assert pick("PO-2026-0118", OWN) is None  # one digit off is another order, not a misreading
    assert pick("MADE IN CHINA", OWN) is None
    assert pick("", OWN) is None
    assert pick("PO-2026-0117", []) is None  # an unverified contact owns nothing


async def test_real_tesseract_finds_the_order_on_most_drawn_labels(tmp_path: Path) -> None:
    need_tesseract()
    reader = LabelReader()
    numbers = [f"PO-2026-{(seed * 389) % 10000:04d}" for seed in range(12)]
    paths = []
    for seed, number in enumerate(numbers):
        path = tmp_path / f"label{seed}.jpg"
        carton_label(seed, number).save(path, quality=85)
        paths.append(path)
    texts = await asyncio.gather(*(reader.read(str(p)) for p in paths))  # two at a time (PARALLEL)
    decoys = [(99, order_key("PO-2025-0999")), (98, order_key("SO-88812"))]
    hits = [
        pick(text or "", [(1, order_key(n)), *decoys]) == 1 for n, text in zip(numbers, texts, strict=True)
    ]
    rate = sum(hits) / len(hits)
    print(f"carton labels: order found on {sum(hits)} of {len(hits)} ({rate:.0%})")
    assert rate >= HIT_RATE_FLOOR, [t for t, hit in zip(texts, hits, strict=True) if not hit]
    cartons = [c for t in texts for c in marks(t or "")["cartons"]]
    skus = [s for t in texts for s in marks(t or "")["skus"]]
    assert len([c for c in cartons if c.endswith("/100")]) >= len(texts) // 2  # "CTN n/100" read too
    assert skus.count("BP-220") >= len(texts) // 2


async def test_a_label_without_an_order_number_names_none(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "plain.jpg"
    carton_label(3, None).save(path, quality=85)
    text = await LabelReader().read(str(path))
    assert text and "CHINA" in text.upper()  # read, and nothing in it is an order
    assert pick(text, OWN) is None
