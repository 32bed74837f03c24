"""After the claim is open: more photos, missing details, answers to staff questions.

The dialog stays open a while (steps.ATTACH) so an album's further photos join the claim
quietly, and reopens when staff ask the client something (steps.INFO): the answer goes
to QC, and new evidence sends a claim waiting for information back to review.
"""

from __future__ import annotations

from bot.ids import candidates, order_key
from bot.states import ClaimState
from handlers.base import Context, Outcome
from handlers.claims import asks, caps, labels, parse
from handlers.claims import workflow as wf
from handlers.claims.checks import EvidenceRules
from handlers.claims.draft import ClaimDraft
from handlers.claims.intake import actor
from handlers.claims.steps import ATTACH_TTL, DIALOG, Step
from storage.models import AttachmentRow, Claim
from storage.repos import claims as repo


async def after_opening(
    ctx: Context,
    state: ClaimDraft,
    media: list[AttachmentRow],
    text: str,
    rules: EvidenceRules | None = None,
) -> Outcome | None:
    claim = await repo.find(ctx.session, str(state.claim or ""))
    if claim is None:
        ctx.end_dialog()
        return None
    new_order = [k for k in candidates(text) if order_key(claim.order_number or "") != k]
    if new_order and parse.is_defect_report(text):
        ctx.end_dialog()
        return None  # a report about another order: a new claim
    if media:
        silent = bool(ctx.message.media_group_id and ctx.message.media_group_id == state.media_group)
        told = await add_to_claim(
            ctx, claim, media, silent=silent and not text, full_told=state.full_told, rules=rules
        )
        step = Step.INFO if claim.state == ClaimState.NEEDS_INFO else Step.ATTACH
        ctx.start_dialog(
            DIALOG,
            state.opened(
                step, claim.number, media_group=ctx.message.media_group_id, full_told=told
            ).to_json(),
            ATTACH_TTL,
        )
        return Outcome.DONE
    if state.step == Step.INFO and text:
        return await _pass_answer(ctx, claim, text)
    if state.step == Step.ATTACH and asks.says_no_more(text):
        await asks.no_more(ctx, claim, by=actor(ctx))
        return Outcome.DONE
    updated = _update_details(ctx, claim, text)
    if updated:
        await repo.add_event(
            ctx.session,
            claim,
            by=actor(ctx),
            to_state=claim.state,
            note="details: " + ", ".join(updated),
            now=ctx.now,
            action="claim_details",
        )
        await ctx.reply(ctx._("Thank you, we added this to {claim}.", claim=claim.number))
        return Outcome.DONE
    ctx.end_dialog()
    return None


async def _pass_answer(ctx: Context, claim: Claim, text: str) -> Outcome:
    """The client's answer to a staff question: on the claim's record and to QC."""
    await repo.add_event(
        ctx.session,
        claim,
        by=actor(ctx),
        to_state=claim.state,
        note=f"client: {caps.clip(text)}",
        now=ctx.now,
        action="claim_client_answer",
    )
    await repo.get(ctx.session, claim.id)
    await wf.notify_qc(
        ctx.session,
        claim,
        headline=lambda tr: tr._(
            "Client answered on {claim}: {text}", claim=claim.number, text=caps.clip(text, 500)
        ),
        brief=True,
        files=[],
        duplicates=[],
        tag=f"answer{ctx.message_id}",
        cause_message_id=ctx.message_id,
    )
    await ctx.reply(
        ctx._(
            "Thank you, we passed your answer to our QC team ({claim}). "
            "Photos or a video help the most if you have them.",
            claim=claim.number,
        )
    )
    return Outcome.DONE


def _update_details(ctx: Context, claim: Claim, text: str) -> list[str]:
    changed = []
    qty = parse.quantity(text, bare=claim.quantity_affected is None)
    if qty is not None and claim.quantity_affected is None:
        claim.quantity_affected = qty
        changed.append(f"quantity {qty}")
    flag = parse.unused(text, answer=True)
    if flag is not None and claim.unused is None:
        claim.unused = flag
        changed.append("unused" if flag else "used")
        if flag is False and claim.eligibility == "eligible":
            claim.eligibility = "excluded:used"
    return changed


async def add_to_claim(
    ctx: Context,
    claim: Claim,
    media: list[AttachmentRow],
    *,
    silent: bool,
    full_told: bool = False,
    rules: EvidenceRules | None = None,
) -> bool:
    """Add the files; True once the client has been told the claim is full (an album: told once)."""
    added = await wf.add_evidence(
        ctx.session, claim, media, by=actor(ctx), now=ctx.now, rules=rules, caption=ctx.text
    )
    ask_next = not silent and claim.state != ClaimState.NEEDS_INFO  # staff asked something: retakes only
    ask = asks.follow_up(ctx.translator, claim, added.checked, rules, ask_next=ask_next)
    if added.order_found:
        await ctx.reply(labels.found_text(ctx.translator, added.order_found))
    if added.refused and not (silent and full_told):
        await ctx.reply(caps.files_notice(ctx, claim.number))
        full_told = True
    if not added.rows:
        if not silent and not added.refused:
            await ctx.reply(ctx._("We already have these files on {claim}.", claim=claim.number))
        return full_told
    if claim.state == ClaimState.NEEDS_INFO:
        await wf.transition(
            ctx.session,
            claim,
            "review",
            by=actor(ctx),
            note="new evidence from the client",
            now=ctx.now,
            cause_message_id=ctx.message_id,
        )
    elif not silent:
        await repo.get(ctx.session, claim.id)
        await ctx.reply(asks.appended(_added_text(ctx, claim, len(added.rows)), ask))
        ask = ""
    if ask:  # after a staff question or within an album: only the retakes, on their own
        await ctx.reply(ask)
    await repo.get(ctx.session, claim.id)
    await wf.notify_qc(
        ctx.session,
        claim,
        headline=lambda tr: tr._("More evidence for {claim}", claim=claim.number),
        brief=True,
        files=added.rows,
        duplicates=added.duplicates,
        tag=f"ev{added.rows[0].id}",
        cause_message_id=ctx.message_id,
    )
    return full_told


def _added_text(ctx: Context, claim: Claim, n: int) -> str:
    """The client's receipt for their files; `claim.evidence` must be fresh so the total is right."""
    return ctx.ngettext(
        "Added to {claim}: {n} file, {total} in total.",
        "Added to {claim}: {n} files, {total} in total.",
        n,
        claim=claim.number,
        total=len(claim.evidence),
    )
