from hypothesis import given
from hypothesis import strategies as st

from bot.ids import (
    candidates,
    claim_number,
    claim_sequence,
    escalation_number,
    order_key,
    parse_claim,
    parse_escalation,
    tagged_escalation,
)


def test_forms_clients_type_fold_to_one_key() -> None:
    forms = [
        "PO-2026-0117",
        "po 2026 0117",
        "PO20260117",
        "#PO-2026-0117",
        "ＰＯ－２０２６－０１１７",
        "Po_2026_0117",
    ]
    assert {order_key(f) for f in forms} == {"PO20260117"}


def test_candidates_found_in_sentences() -> None:
    assert candidates("where is my order po 2026 0117 please") == ["PO20260117"]
    assert candidates("订单ＰＯ－２０２６－０１１７到哪了") == ["PO20260117"]
    assert candidates("PO-2026-0117 strap torn, goods unused") == ["PO20260117"]
    assert "PO20260117" not in candidates("CLM-2026-000017 status")
    assert candidates("hello there") == []


# ---- escalation and claim numbers: one format each, read back the way staff type them ------------


def test_escalation_number_format() -> None:
    assert escalation_number(42) == "ESC-000042"
    assert escalation_number(1234567) == "ESC-1234567"


@given(st.integers(min_value=1, max_value=10**12 - 1))
def test_escalation_number_reads_back_in_every_form_staff_type(esc_id: int) -> None:
    full = escalation_number(esc_id)
    assert parse_escalation(full) == esc_id
    assert parse_escalation(full.lower()) == esc_id
    assert parse_escalation(str(esc_id)) == esc_id  # `/ack 42` is `/ack ESC-000042`
    assert parse_escalation(f"ESC{esc_id}") == esc_id
    assert parse_escalation(f"  {full} ") == esc_id


def test_escalation_refs_that_are_not_numbers_are_refused() -> None:
    for text in ["", "ESC-", "ESC-abc", "CLM-2026-000017", "42a", "-42", "1234567890123"]:
        assert parse_escalation(text) is None, text


def test_claim_number_format() -> None:
    assert claim_number(2026, 17) == "CLM-2026-000017"
    assert claim_sequence("CLM-2026-000017") == 17


@given(st.integers(min_value=2000, max_value=9999), st.integers(min_value=1, max_value=999_999))
def test_claim_number_reads_back(year: int, seq: int) -> None:
    full = claim_number(year, seq)
    assert parse_claim(full) == (year, seq)
    assert parse_claim(full.lower().replace("-", "")) == (year, seq)
    assert parse_claim(full.replace("-", " ")) == (year, seq)
    assert claim_sequence(full) == seq
    assert parse_claim(str(seq)) == (None, seq)  # the bare number: the newest claim with it


def test_claim_refs_without_digits_are_refused() -> None:
    assert parse_claim("") is None
    assert parse_claim("CLM") is None
    assert parse_claim("hello") is None
    # a full-width number from a Chinese keyboard is the same claim
    assert parse_claim("ＣＬＭ－２０２６－０００１７") == (2026, 17)


def test_an_email_subject_tagged_with_an_escalation_names_it() -> None:
    assert tagged_escalation("Re: [ESC-000042] message from Anna") == 42
    assert tagged_escalation("Re: [esc-7] hi") == 7
    assert tagged_escalation("Re: ESC-000042 without brackets") is None
    assert tagged_escalation("Re: [CLM-2026-000017] claim") is None
