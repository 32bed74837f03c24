"""Cursors round-trip what we issued and refuse, as ValueError, anything an API client forges."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.limits import INT64_MAX
from storage.repos.cursors import decode_cursor, encode_cursor

moments = st.datetimes(timezones=st.just(UTC))
ids = st.integers(min_value=1, max_value=INT64_MAX)


@given(moments, ids)
def test_a_cursor_we_issued_comes_back_as_it_was(at: datetime, row_id: int) -> None:
    assert decode_cursor(encode_cursor(at, row_id)) == (at, row_id)


@given(st.text(max_size=60))
def test_any_text_is_a_cursor_or_a_value_error(text: str) -> None:
    try:
        at, row_id = decode_cursor(text)
    except ValueError:
        return
    assert 0 < row_id <= INT64_MAX and isinstance(at, datetime)


@pytest.mark.parametrize("row_id", [0, -1, INT64_MAX + 1, 2**70, "7", 1.5, None])
def test_an_id_outside_bigint_or_not_an_integer_is_refused(row_id: object) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", row_id]).encode()).decode()
    with pytest.raises(ValueError):
        decode_cursor(forged)
