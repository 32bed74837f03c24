"""Keyset-pagination cursors shared by every listing endpoint.

A cursor is opaque to API clients but is decoded from their input, so a forged one must
fail as ValueError (a 400), never reach the database as an out-of-range BIGINT.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from storage.limits import INT64_MAX


def encode_cursor(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), row_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Raises ValueError on anything that is not a cursor we issued."""
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(row_id, int) or not 0 < row_id <= INT64_MAX:  # a forged id must not reach BIGINT
            raise ValueError("cursor id out of range")
        return datetime.fromisoformat(at), row_id
    except Exception as exc:
        raise ValueError("invalid cursor") from exc
