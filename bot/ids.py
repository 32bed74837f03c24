"""Order numbers in the forms clients really type.

"PO-2026-0117", "po 2026 0117", "PO20260117", "#PO-2026-0117" and the full-width
"ＰＯ－２０２６－０１１７" from a Chinese keyboard all mean the same order. Orders
are matched on a key that keeps only letters and digits (after NFKC folding), so
the stored number can keep whatever form the client's ERP uses.
"""

from __future__ import annotations

import re
import unicodedata

# A letter prefix, then digits with optional separators: PO-2026-0117, SO 88812, PI2026/0117
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,5}[\s\-_#/.:]{0,3}\d(?:[\d\s\-_/.]{0,14}\d)?)(?![A-Za-z0-9])"
)
_BARE_DIGITS = re.compile(r"(?<!\d)(\d{4}[\s\-_/]?\d{3,6})(?!\d)")
_NOT_ORDERS = {"CLM", "ESC", "HS", "SKU", "ID", "TEL", "NO"}


def fold(text: str) -> str:
    """Full-width digits and letters to ASCII, and the ideographic space to a space."""
    return unicodedata.normalize("NFKC", text or "")


def order_key(number: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", fold(number).upper())


def candidates(text: str) -> list[str]:
    """Keys of everything in `text` that could be an order number, in order of appearance."""
    folded = fold(text)
    keys: list[str] = []
    for match in _CANDIDATE.finditer(folded):
        raw = match.group(1)
        prefix = re.match(r"[A-Za-z]+", raw)
        if prefix and prefix.group(0).upper() in _NOT_ORDERS:
            continue
        key = order_key(raw)
        if sum(c.isdigit() for c in key) >= 3 and key not in keys:
            keys.append(key)
    for match in _BARE_DIGITS.finditer(folded):
        key = order_key(match.group(1))
        if key not in keys and not any(k.endswith(key) for k in keys):
            keys.append(key)
    return keys
