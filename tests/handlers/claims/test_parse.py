"""How defect reports are read, in English and Chinese (pure functions, no I/O)."""

from __future__ import annotations

import pytest

from handlers.claims import parse as p


@pytest.mark.parametrize(
    "text",
    [
        "strap torn",
        "The zipper is broken",
        "stitching came loose",
        "defective handles",
        "质量问题",
        "破了",
        "拉链坏了",
        "有瑕疵",
        "开线了",
    ],
)
def test_defect_words_start_a_claim(text: str) -> None:
    assert p.is_defect_report(text)


@pytest.mark.parametrize("text", ["where is my order", "hello", "我的订单到哪了", "strap length please"])
def test_ordinary_questions_do_not(text: str) -> None:
    assert not p.is_defect_report(text)


def test_claim_references_in_every_form() -> None:
    assert p.claim_refs("status of CLM-2026-000017") == ["CLM-2026-000017"]
    assert p.claim_refs("clm 2026 17 状态") == ["CLM-2026-000017"]
    assert p.claim_refs("ＣＬＭ－２０２６－０００１７") == ["CLM-2026-000017"]  # full-width keyboard
    assert p.claim_refs("PO-2026-0117") == []


@pytest.mark.parametrize(
    ("text", "bare", "expected"),
    [
        ("5 pcs", False, 5),
        ("3个", False, 3),
        ("12", True, 12),
        ("12", False, None),
        ("PO-2026-0117", True, None),
        ("0 pcs", False, None),
    ],
)
def test_quantity(text: str, bare: bool, expected: int | None) -> None:
    assert p.quantity(text, bare=bare) == expected


@pytest.mark.parametrize(
    ("text", "answer", "expected"),
    [
        ("goods unused", False, True),
        ("never used, still sealed", False, True),
        ("未使用", False, True),
        ("after using them for a month", False, False),
        ("用过几次", False, False),
        ("yes", True, True),
        ("是", True, True),
        ("no", True, False),
        ("yes", False, None),
        ("strap torn", False, None),
    ],
)
def test_unused(text: str, answer: bool, expected: bool | None) -> None:
    assert p.unused(text, answer=answer) is expected


@pytest.mark.parametrize(
    ("text", "unused", "expected"),
    [
        ("strap torn", True, None),
        ("strap torn", False, "used"),
        ("we dropped it from the truck", None, "misuse"),
        ("机洗后掉色", None, "misuse"),
        ("cartons crushed in transit", None, "carrier"),
        ("快递压坏了", None, "carrier"),
    ],
)
def test_policy_exclusions(text: str, unused: bool | None, expected: str | None) -> None:
    assert p.exclusion(text, unused) == expected
