"""The numbers people type and read: orders, claims (CLM-YYYY-NNNNNN) and escalations (ESC-NNNNNN).

Each format has one owner here, so the alert that prints "ESC-000042" and the `/ack 42`
that staff type back can never disagree.

Order numbers come in the forms clients really type.

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


# ---- escalations: ESC-000042, and the bare 42 staff type ----------------------------------------

_ESCALATION = re.compile(r"^(?:ESC-?)?0*(\d{1,12})$", re.IGNORECASE)
_ESCALATION_TAG = re.compile(r"\[ESC-(\d{1,12})\]", re.IGNORECASE)


def escalation_number(esc_id: int) -> str:
    """ESC-000042: six digits at least, more when the id outgrows them."""
    return f"ESC-{esc_id:06d}"


def parse_escalation(text: str) -> int | None:
    """`42`, `ESC-000042`, `esc-42` → 42; anything else → None (so `/ack 42` is `/ack ESC-000042`)."""
    m = _ESCALATION.match(fold(text).strip())
    return int(m.group(1)) if m else None


def tagged_escalation(subject: str) -> int | None:
    """The escalation an email subject is tagged with: replies keep "[ESC-000042]"."""
    m = _ESCALATION_TAG.search(subject)
    return int(m.group(1)) if m else None


# ---- claims: CLM-2026-000017, and the bare 17 staff type ------------------------------------------


def claim_number(year: int, seq: int) -> str:
    """CLM-YYYY-NNNNNN; the sequence counts up per year."""
    return f"CLM-{year:04d}-{seq:06d}"


def claim_number_like(seq: int) -> str:
    """A SQL LIKE pattern matching this sequence in any year (for the bare number staff type)."""
    return f"CLM-____-{seq:06d}"


def claim_sequence(number: str) -> int:
    """The number staff type: 17 for CLM-2026-000017."""
    return int(number.rsplit("-", 1)[1])


def parse_claim(text: str) -> tuple[int | None, int] | None:
    """(year, sequence) from `CLM-2026-000017`, `clm 2026 000017` or `clm2026000017`; (None, 17) from `17`.

    A bare sequence names the newest claim with it; the caller looks that up.
    """
    ref = re.sub(r"\s+", "", fold(text)).upper()
    digits = "".join(c for c in ref if c.isdigit())
    if not digits or len(digits) > 16:
        return None
    if ref.startswith("CLM") and len(digits) >= 5:
        return int(digits[:4]), int(digits[4:])
    return None, int(digits)
