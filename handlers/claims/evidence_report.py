"""What QC reads about a claim's evidence: each photo's shot, size and sharpness, each video's length.

One wording for the QC page (a chat message, in the staff member's language) and the
console's claim page, both from the check stored on each evidence row.
"""

from __future__ import annotations

from bot.i18n import N_, Translator
from storage.models import Claim, ClaimEvidence

PROBLEMS = {
    "blurry": N_("blurry"),
    "too_small": N_("too small"),
    "unreadable": N_("unreadable"),
    "too_long": N_("too long"),
    "too_large": N_("too large"),
}


def verdict(ev: ClaimEvidence, tr: Translator) -> str:
    q = ev.quality or {}
    if q.get("ok"):
        return tr._("OK")
    said = ", ".join(tr._(PROBLEMS.get(p, p)) for p in q.get("problems", []))
    return tr._("{problems} (client asked to retake)", problems=said)


def is_video(ev: ClaimEvidence) -> bool:
    return (ev.quality or {}).get("kind") == "video"


def video_line(n: int, ev: ClaimEvidence, tr: Translator) -> str:
    q = ev.quality or {}
    return tr._(
        "Video {n}: {seconds} s · {width}×{height} px · {size} MB · {verdict}",
        n=n,
        seconds=f"{q.get('duration_seconds', 0):g}",
        width=q.get("width", 0),
        height=q.get("height", 0),
        size=f"{int(q.get('bytes', 0)) / 1e6:.1f}",
        verdict=verdict(ev, tr),
    )


def photo_line(n: int, ev: ClaimEvidence, tr: Translator) -> str:
    q = ev.quality or {}
    if is_video(ev):
        return video_line(n, ev, tr)
    return tr._(
        "Photo {n}: {shot} · {width}×{height} px · sharpness {sharpness} · {verdict}",
        n=n,
        shot=ev.shot or tr._("extra photo"),
        width=q.get("width", 0),
        height=q.get("height", 0),
        sharpness=q.get("sharpness", 0),
        verdict=verdict(ev, tr),
    )


def missing_line(claim: Claim, tr: Translator) -> str | None:
    if claim.missing_shots is None:
        return None  # never checked (a claim from before the checks)
    if not claim.missing_shots:
        return tr._("All shots arrived.")
    line = tr._("Shots still missing: {shots}", shots=", ".join(claim.missing_shots))
    if claim.no_more_photos_at is not None:
        line += " " + tr._("(the client has no more photos)")
    return line


def qc_lines(claim: Claim, attachment_ids: list[int] | None, tr: Translator) -> list[str]:
    """The checked photos among `attachment_ids` (None: all of the claim's), then what is still missing."""
    lines = [
        photo_line(n, ev, tr)
        for n, ev in enumerate(claim.evidence, start=1)
        if ev.quality is not None and (attachment_ids is None or ev.attachment_id in attachment_ids)
    ]
    missing = missing_line(claim, tr)
    return lines + ([missing] if missing else [])
