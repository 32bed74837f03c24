"""Each claim photo and video checked as it arrives: its quality measured, its shot named, what is missing.

Called once per batch of new evidence (workflow.add_evidence), in the transaction that adds
it, so what the client is asked and what QC sees come from the same stored check. The
measure runs off the event loop: decoding a photo is CPU work (a thread), probing a video
a child process (handlers/claims/video.py, usually done before the transaction began).
Videos fill no shot: the list names photos.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import ClaimsSettings
from handlers.claims import quality, shots, video
from handlers.claims.video import VideoProbe
from storage.models import AttachmentRow, Claim, ClaimEvidence
from storage.repos import evidence as repo


@dataclass(frozen=True)
class EvidenceRules:
    """What claim evidence must be: the shot list, the photo thresholds (config `[claims]`), the video limits.

    `videos` is the prober the limits are checked with (None: videos are not checked).
    """

    shots: shots.ShotList
    quality: quality.Rules = field(default_factory=quality.Rules)
    video: video.Limits = field(default_factory=video.Limits)
    videos: VideoProbe | None = None

    @classmethod
    def from_settings(cls, settings: ClaimsSettings, videos: VideoProbe | None = None) -> EvidenceRules:
        raw = shots.read(settings.shots_file)
        return cls(
            shots.parse(raw, settings.shots_file),
            quality.Rules(settings.min_long_edge, settings.min_sharpness),
            video.limits(raw, settings.shots_file),
            videos,
        )


@dataclass(frozen=True)
class Checked:
    number: int  # the photo's place among this message's photos, from 1
    shot: str | None
    quality: quality.Quality


@dataclass(frozen=True)
class CheckedVideo:
    number: int  # the video's place among this message's videos, from 1
    quality: video.VideoQuality


@dataclass(frozen=True)
class Checks:
    photos: list[Checked]
    missing: list[str]  # the claim's shots still without a good photo, after these
    completed: bool  # these photos brought the last missing shot
    videos: list[CheckedVideo] = field(default_factory=list)


async def check(
    session: AsyncSession,
    claim: Claim,
    new: list[tuple[ClaimEvidence, AttachmentRow]],
    rules: EvidenceRules,
    caption: str = "",
) -> Checks:
    """Measure the new photos and videos (evidence row, its stored attachment) and name the photos' shots."""
    needed = rules.shots.needed(claim.category)
    before = shots.missing(needed, await repo.shots_taken(session, claim.id))
    photos = [(row, att.stored_path) for row, att in new if att.kind == "photo" and att.stored_path]
    named = rules.shots.named_in(caption, needed) if caption else None
    names = shots.assign(before, len(photos), named)
    checked = []
    for number, ((row, path), shot) in enumerate(zip(photos, names, strict=True), start=1):
        assert path is not None
        result = await asyncio.to_thread(quality.measure, path, rules.quality)
        repo.record_check(row, result.as_json(), shot)
        checked.append(Checked(number, shot, result))
    videos = await _check_videos(new, rules)
    await session.flush()
    after = shots.missing(needed, await repo.shots_taken(session, claim.id))
    claim.missing_shots = after
    return Checks(checked, after, completed=bool(before) and not after, videos=videos)


async def _check_videos(
    new: list[tuple[ClaimEvidence, AttachmentRow]], rules: EvidenceRules
) -> list[CheckedVideo]:
    if rules.videos is None:
        return []
    out: list[CheckedVideo] = []
    clips = [(row, att) for row, att in new if att.kind == "video" and att.stored_path and att.sha256]
    for row, att in clips:
        found = await rules.videos.probe(str(att.stored_path), str(att.sha256))
        if found is None:
            continue  # not checked (off, or not in time): kept as before
        result = video.assess(found, rules.video)
        repo.record_check(row, result.as_json(), None)
        out.append(CheckedVideo(len(out) + 1, result))
    return out
