"""Each claim photo checked as it arrives: its quality measured, its shot named, the claim's missing shots.

Called once per batch of new evidence (workflow.add_evidence), in the transaction that adds
it, so what the client is asked and what QC sees come from the same stored check. The
measure runs off the event loop: decoding a photo is CPU work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import ClaimsSettings
from handlers.claims import quality, shots
from storage.models import Claim, ClaimEvidence
from storage.repos import evidence as repo


@dataclass(frozen=True)
class EvidenceRules:
    """What a claim photo must be: the shot list and the quality thresholds (config `[claims]`)."""

    shots: shots.ShotList
    quality: quality.Rules = field(default_factory=quality.Rules)

    @classmethod
    def from_settings(cls, settings: ClaimsSettings) -> EvidenceRules:
        return cls(
            shots.load(settings.shots_file), quality.Rules(settings.min_long_edge, settings.min_sharpness)
        )


@dataclass(frozen=True)
class Checked:
    number: int  # the photo's place among this message's photos, from 1
    shot: str | None
    quality: quality.Quality


@dataclass(frozen=True)
class Checks:
    photos: list[Checked]
    missing: list[str]  # the claim's shots still without a good photo, after these
    completed: bool  # these photos brought the last missing shot


async def check(
    session: AsyncSession,
    claim: Claim,
    new: list[tuple[ClaimEvidence, str | None]],
    rules: EvidenceRules,
    caption: str = "",
) -> Checks:
    """Measure the new photos (evidence row, stored file; videos have no file here) and name their shots."""
    needed = rules.shots.needed(claim.category)
    before = shots.missing(needed, await repo.shots_taken(session, claim.id))
    photos = [(row, path) for row, path in new if path]
    named = rules.shots.named_in(caption, needed) if caption else None
    names = shots.assign(before, len(photos), named)
    checked = []
    for number, ((row, path), shot) in enumerate(zip(photos, names, strict=True), start=1):
        assert path is not None
        result = await asyncio.to_thread(quality.measure, path, rules.quality)
        repo.record_check(row, result.as_json(), shot)
        checked.append(Checked(number, shot, result))
    await session.flush()
    after = shots.missing(needed, await repo.shots_taken(session, claim.id))
    claim.missing_shots = after
    return Checks(checked, after, completed=bool(before) and not after)
