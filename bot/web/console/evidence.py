"""The claim page's evidence: each photo with its shot and quality, and the shots still missing.

The same wording as the QC page in chat (handlers/claims/evidence_report.py), in the reader's
language; the template escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Translator
from handlers.claims import evidence_report
from storage.models import Claim


@dataclass(frozen=True)
class Checked:
    line: str  # "Photo 2: defect · 1600×1200 px · sharpness 12.3 · blurry (client asked to retake)"
    ok: bool


def captions(claim: Claim, tr: Translator) -> list[Checked | None]:
    """One per evidence row, in the page's order; None for a file that was not checked (a video)."""
    return [
        Checked(evidence_report.photo_line(n, ev, tr), bool(ev.quality.get("ok"))) if ev.quality else None
        for n, ev in enumerate(claim.evidence, start=1)
    ]


def missing(claim: Claim, tr: Translator) -> str:
    return evidence_report.missing_line(claim, tr) or ""
