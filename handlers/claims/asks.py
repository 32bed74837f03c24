"""What the client is told after their evidence is checked: retake this one (and why), send that shot next.

Asked at once, in the client's language, while they still hold the bag: a photo that is not
good enough is kept (QC may still use it) and named with its reason; then the next missing
shot by name, until the list is complete or the client says they have no more ("that's
all I have", "没有了"), after which the claim goes on with what there is and the bot stops
asking.
"""

from __future__ import annotations

import re

from bot.i18n import Translator
from bot.ids import fold
from handlers.base import Context
from handlers.claims import workflow as wf
from handlers.claims.checks import Checked, CheckedVideo, Checks, EvidenceRules
from handlers.claims.shots import ShotList
from storage.models import Claim
from storage.repos import claims as repo

NO_MORE = re.compile(
    r"^\s*(that'?s all( i have| there is)?|that is all( i have)?|no more( photos?| pictures?)?"
    r"|nothing (else|more)|i have no (more|other) (photos?|pictures?)|i don'?t have (any )?more( photos?)?"
    r"|没有了|没了|就这些了?|只有这些了?|没有(更多|别的|其他)的?(照片|图片)?了?)\s*[.!。！]?\s*$",
    re.IGNORECASE,
)


def says_no_more(text: str) -> bool:
    return bool(NO_MORE.match(fold(text).replace("’", "'")))


def _problems(tr: Translator, c: Checked, rules: EvidenceRules) -> tuple[str, str]:
    """What is wrong with the photo and what helps, in the reader's words."""
    said, tips = [], []
    if "unreadable" in c.quality.problems:
        said.append(tr._("could not be opened"))
        tips.append(tr._("please send it again as a photo (JPEG or PNG)"))
    if "blurry" in c.quality.problems:
        said.append(tr._("is blurry"))
        tips.append(tr._("hold the phone still, in good light, and tap the screen to focus"))
    if "too_small" in c.quality.problems:
        said.append(
            tr._(
                "is too small ({width}×{height} px; we need at least {min} px on the long side)",
                width=c.quality.width,
                height=c.quality.height,
                min=rules.quality.min_long_edge,
            )
        )
        tips.append(tr._("send the original photo, not a screenshot or a reduced copy"))
    return tr._(" and ").join(said), tr._("; ").join(tips)


def retake(tr: Translator, c: Checked, rules: EvidenceRules, *, single: bool) -> str:
    shot = rules.shots.label(c.shot, tr.language) if c.shot else None
    if single:
        photo = tr._("This photo ({shot})", shot=shot) if shot else tr._("This photo")
    else:
        photo = tr._("Photo {n} ({shot})", n=c.number, shot=shot) if shot else tr._("Photo {n}", n=c.number)
    problems, tips = _problems(tr, c, rules)
    return tr._(
        "{photo} {problems}. Please take it again: {tips}.", photo=photo, problems=problems, tips=tips
    )


def _video_problems(tr: Translator, c: CheckedVideo, rules: EvidenceRules) -> tuple[str, str]:
    said, tips = [], []
    q = c.quality
    if "unreadable" in q.problems:
        said.append(tr._("could not be played"))
        tips.append(tr._("send it again as a video from the phone's camera (MP4)"))
    if "too_long" in q.problems:
        said.append(
            tr._(
                "is too long ({seconds} s; at most {max} s, please)",
                seconds=f"{q.duration:g}",
                max=f"{rules.video.max_seconds:g}",
            )
        )
        tips.append(tr._("a short clip of the defect is enough"))
    if "too_large" in q.problems:
        said.append(
            tr._(
                "is too large ({size} MB; at most {max} MB)",
                size=f"{q.size / 1e6:.1f}",
                max=f"{rules.video.max_bytes / 1e6:g}",
            )
        )
        tips.append(tr._("record a shorter clip, or at a lower quality"))
    return tr._(" and ").join(said), tr._("; ").join(tips)


def video_retake(tr: Translator, c: CheckedVideo, rules: EvidenceRules, *, single: bool) -> str:
    clip = tr._("This video") if single else tr._("Video {n}", n=c.number)
    problems, tips = _video_problems(tr, c, rules)
    return tr._(
        "{video} {problems}. Please record it again: {tips}.", video=clip, problems=problems, tips=tips
    )


def next_shot(tr: Translator, claim: Claim, shots: ShotList) -> str:
    name = (claim.missing_shots or [""])[0]
    return "\n".join(
        [
            tr._("Next, please send a photo of {shot}.", shot=shots.label(name, tr.language)),
            tr._("If you have no more photos, reply “that's all I have”."),
        ]
    )


def follow_up(
    tr: Translator, claim: Claim, checks: Checks | None, rules: EvidenceRules | None, *, ask_next: bool = True
) -> str:
    """Retake requests for the bad photos, then the next missing shot (or thanks when complete); may be ""."""
    if checks is None or rules is None:
        return ""
    bad = [c for c in checks.photos if not c.quality.ok]
    lines = [retake(tr, c, rules, single=len(checks.photos) == 1) for c in bad]
    lines += [
        video_retake(tr, v, rules, single=len(checks.videos) == 1) for v in checks.videos if not v.quality.ok
    ]
    retaken = {c.shot for c in bad}
    if ask_next and checks.missing and claim.no_more_photos_at is None:
        if checks.missing[0] not in retaken:  # a retake named the shot already
            lines.append(next_shot(tr, claim, rules.shots))
        else:
            lines.append(tr._("If you have no more photos, reply “that's all I have”."))
    elif ask_next and checks.completed:
        lines.append(tr._("Thank you, we now have all the photos our QC team needs."))
    return "\n".join(lines)


def appended(text: str, more: str) -> str:
    return f"{text}\n\n{more}" if more else text


async def no_more(ctx: Context, claim: Claim, *, by: str) -> None:
    """The client has no more photos: stop asking, tell QC what is missing, go on with what there is."""
    claim.no_more_photos_at = ctx.now
    missing = list(claim.missing_shots or [])
    await repo.add_event(
        ctx.session,
        claim,
        by=by,
        to_state=claim.state,
        note="client has no more photos" + (f"; missing: {', '.join(missing)}" if missing else ""),
        now=ctx.now,
        action="claim_no_more_photos",
        missing=missing,
    )
    await repo.get(ctx.session, claim.id)
    await wf.notify_qc(
        ctx.session,
        claim,
        headline=lambda tr: tr._("Client has no more photos for {claim}", claim=claim.number),
        brief=True,
        files=[],
        duplicates=[],
        tag=f"nomore{ctx.message_id}",
        cause_message_id=ctx.message_id,
    )
    await ctx.reply(
        ctx._(
            "OK, we go ahead with the photos we have: our QC team reviews {claim} now "
            "and tells you if anything else is needed.",
            claim=claim.number,
        )
    )
