"""How much of what a client sends a claim keeps, and what the client is told when that is reached.

A claim's draft lives in the conversation's dialog state, rewritten on every message: without
bounds, five 144 KB mails made a 1.44 MB row rewritten on each further one, and a claim took
any number of files. The bounds are generous for a real report; hitting one is said to the
client (once per dialog), never silently dropped.
"""

from __future__ import annotations

from handlers.base import Context
from handlers.claims.draft import ClaimDraft

MAX_DESCRIPTION = 4000  # characters of a claim's description, all messages together
MAX_KEPT_TEXT = 1000  # characters of one message a draft keeps for the policy check, or a note keeps
MAX_DRAFT_TEXTS = 10  # messages whose text a draft keeps (the first ones: the report itself)
MAX_FILES = 20  # photos and videos on one claim


def clip(text: str, limit: int = MAX_KEPT_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def keep_text(texts: list[str], text: str) -> list[str]:
    return texts if len(texts) >= MAX_DRAFT_TEXTS else [*texts, clip(text)]


def add_description(current: str, said: str) -> tuple[str, bool]:
    """The description with `said` appended, at most MAX_DESCRIPTION long; True when something was cut."""
    joined = f"{current} {said}".strip()
    return joined[:MAX_DESCRIPTION], len(joined) > MAX_DESCRIPTION


def keep_files(kept: list[int], new: list[int]) -> tuple[list[int], int]:
    """Attachment ids of a draft, at most MAX_FILES; and how many of `new` did not fit."""
    room = max(0, MAX_FILES - len(kept))
    return [*kept, *new[:room]], max(0, len(new) - room)


def description_notice(ctx: Context) -> str:
    limit = f"{MAX_DESCRIPTION:,}"
    return ctx._(
        "Your description is long; I kept the first {limit} characters. "
        "If something important is missing, a colleague can add it for you.",
        limit=limit,
    )


def files_notice(ctx: Context, claim_number: str | None = None) -> str:
    if claim_number:
        return ctx._(
            "Claim {claim} already has {limit} files, so I did not add the further ones. "
            "Please send further photos as a new claim, or ask our staff.",
            claim=claim_number,
            limit=MAX_FILES,
        )
    return ctx._(
        "This claim already has {limit} files, so I did not add the further ones. "
        "Please send further photos as a new claim, or ask our staff.",
        limit=MAX_FILES,
    )


async def tell_once(ctx: Context, draft: ClaimDraft, what: str, text: str) -> None:
    """Reply `text` unless this dialog was already told `what` (an album must not get one each)."""
    told = list(draft.told)
    if what in told:
        return
    draft.told = [*told, what]
    await ctx.reply(text)
