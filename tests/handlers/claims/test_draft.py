"""The claim draft survives its JSON column, and a draft written by an older release still reads.

A deploy happens while clients are half-way through a report: the next message must find
what the old release kept (a plain dict with fewer or other keys), never fail on it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.claims.draft import ClaimDraft
from handlers.claims.steps import NEXT, Step, StepError

steps = st.one_of(st.none(), st.sampled_from(list(Step)))
texts = st.text(max_size=40)
ids = st.integers(min_value=1, max_value=2**53)

drafts = st.builds(
    ClaimDraft,
    step=steps,
    asked=st.dictionaries(st.sampled_from([s.value for s in Step]), st.integers(0, 5), max_size=4),
    asked_step=steps,
    asked_at=st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
    options=st.lists(texts, max_size=5),
    evidence=st.lists(ids, max_size=20),
    texts=st.lists(texts, max_size=10),
    told=st.lists(st.sampled_from(["files", "description"]), max_size=2),
    order_id=st.none() | ids,
    order_number=st.none() | texts,
    order_unknown=st.booleans(),
    sku=st.none() | texts,
    line_id=st.none() | ids,
    multi_line=st.booleans(),
    qty=st.none() | st.integers(0, 10**6),
    unused=st.none() | st.booleans(),
    description=texts,
    media_group=st.none() | texts,
    claim=st.none() | st.just("CLM-2026-000017"),
    full_told=st.booleans(),
)

# Whatever a JSON column can hand back.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@given(drafts)
def test_a_draft_survives_the_json_column(draft: ClaimDraft) -> None:
    stored = json.loads(json.dumps(draft.to_json()))  # what the database gives back
    assert ClaimDraft.from_json(stored) == draft


@given(drafts)
def test_to_json_writes_plain_values_and_every_key(draft: ClaimDraft) -> None:
    out = draft.to_json()
    assert set(out) == set(ClaimDraft.__dataclass_fields__)
    assert type(out["step"]) in (str, type(None)) and type(out["asked_step"]) in (str, type(None))


@given(st.dictionaries(st.sampled_from([*ClaimDraft.__dataclass_fields__, "x", "step"]), json_values))
def test_any_stored_state_reads_without_error(raw: dict[str, Any]) -> None:
    draft = ClaimDraft.from_json(raw)
    assert ClaimDraft.from_json(json.loads(json.dumps(draft.to_json()))) == draft


@given(json_values)
def test_a_state_that_is_not_even_a_dict_is_a_fresh_draft(raw: Any) -> None:
    if not isinstance(raw, dict):
        assert ClaimDraft.from_json(raw) == ClaimDraft()


def test_an_old_release_dict_draft_reads_with_its_values() -> None:
    """The shape the previous release wrote (a partial dict, step and asked as strings)."""
    old = {
        "step": "qty",
        "asked": {"order": 1, "qty": 1},
        "evidence": [41, 42],
        "texts": ["the strap is torn PO-2026-0117"],
        "options": [],
        "order_id": 7,
        "order_number": "PO-2026-0117",
        "order_unknown": False,
        "sku": "BP-20",
        "line_id": 12,
        "description": "the strap is torn",
        "asked_step": "qty",
        "asked_at": 1767225600.5,
        "media_group": "A1",
        "told": ["files"],
        "retired_key": {"from": "an older release"},  # unknown: ignored
    }
    draft = ClaimDraft.from_json(old)
    assert draft.step is Step.QTY and draft.asked_step is Step.QTY
    assert draft.asked == {"order": 1, "qty": 1} and draft.asked.get(Step.ORDER) == 1
    assert (draft.order_id, draft.order_number, draft.sku, draft.line_id) == (7, "PO-2026-0117", "BP-20", 12)
    assert draft.evidence == [41, 42] and draft.told == ["files"] and draft.media_group == "A1"
    assert draft.qty is None and draft.unused is None and draft.multi_line is False  # missing: defaults
    assert draft.asked_at == 1767225600.5 and draft.description == "the strap is torn"


def test_an_old_attach_state_and_wrong_types_fall_back_to_defaults() -> None:
    attach = ClaimDraft.from_json({"step": "attach", "claim": "CLM-2026-000017", "media_group": None})
    assert attach.step is Step.ATTACH and attach.claim == "CLM-2026-000017" and attach.full_told is False
    odd = ClaimDraft.from_json(
        {"step": "gone_step", "qty": "5", "unused": "yes", "evidence": [1, "2", True], "asked_at": "x"}
    )
    assert odd.step is None and odd.qty is None and odd.unused is None
    assert odd.evidence == [1] and odd.asked_at == 0.0


def test_the_map_allows_the_dialog_moves_and_refuses_others() -> None:
    draft = ClaimDraft()
    draft.go(Step.START)
    draft.go(Step.ORDER)
    draft.go(Step.QTY)
    opened = draft.opened(Step.ATTACH, "CLM-2026-000017", media_group="A1")
    assert (opened.step, opened.claim, opened.media_group, opened.evidence) == (
        Step.ATTACH,
        "CLM-2026-000017",
        "A1",
        [],
    )
    opened.go(Step.INFO)
    with pytest.raises(StepError):
        opened.go(Step.ORDER)  # an open claim does not ask for its order again: a new report starts fresh
    assert set(NEXT) == {None, *Step}  # every step says where it may lead
