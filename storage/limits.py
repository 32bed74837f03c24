"""The ranges of the database's integer columns, for checking input before it is bound.

Out of range, PostgreSQL raises DataError and SQLite OverflowError at execute time, far
from the input that caused it; callers check against these first.
"""

from __future__ import annotations

INT64_MAX = 2**63 - 1  # BIGINT (PostgreSQL) and INTEGER (SQLite): every id, hence every cursor
INT32_MAX = 2**31 - 1  # INTEGER (PostgreSQL): quantities and counts
