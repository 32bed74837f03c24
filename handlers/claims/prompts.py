"""What the claim dialog says: the question for each step, with its buttons, and the opening reply.

Where a channel has no buttons the adapters show them as numbered lines; a draft keeps
the buttons' values in `options` so that a typed "2" still means the second one.
"""

from __future__ import annotations

from bot.i18n import N_
from bot.messages import Button
from handlers.base import Context
from handlers.claims.draft import ClaimDraft
from handlers.claims.steps import Step
from storage.models import Claim, Order
from storage.repos import orders as order_repo

EXCLUDED_BECAUSE = {  # why a report looks excluded by the replacement policy, as the client reads it
    "used": N_("the goods were used"),
    "misuse": N_("the damage may come from misuse or improper handling"),
    "carrier": N_("the damage happened during shipping by a carrier"),
}


async def order_buttons(ctx: Context, draft: ClaimDraft) -> list[Button]:
    if ctx.client is None:
        return []
    orders = await order_repo.recent_for_client(ctx.session, ctx.client.id)
    draft.options = [o.number for o in orders]
    return [Button(o.number, o.number) for o in orders]


async def ask(ctx: Context, draft: ClaimDraft, what: Step, order: Order | None) -> None:
    asked = dict(draft.asked)
    asked[what] = asked.get(what, 0) + 1
    draft.go(what)
    draft.asked, draft.asked_step, draft.asked_at, draft.options = asked, what, ctx.now.timestamp(), []
    buttons: list[Button] = []
    if what == Step.ORDER:
        text = ctx._(
            "Which order is this about? Please send the order number (for example PO-2026-0117).",
        )
        buttons = await order_buttons(ctx, draft)
        if buttons:
            text += ctx._(" Or choose one of your recent orders:")
    elif what == Step.SKU:
        lines = order.lines if order else []
        draft.options = [ln.sku for ln in lines]
        buttons = [Button(f"{ln.sku} {ln.description}"[:60], ln.sku) for ln in lines]
        text = ctx._("Which item of {order} is affected?", order=draft.order_number)
    elif what == Step.QTY:
        text = ctx._("How many pieces are affected?")
    elif what == Step.DESCRIPTION:
        text = ctx._(
            "What is wrong with the goods? (for example: strap torn, zipper broken, stitching loose)",
        )
    elif what == Step.UNUSED:
        text = ctx._(
            "Are the affected goods unused (not used since delivery)?",
        )
        buttons = [
            Button(ctx._("Yes, unused"), "claim:unused:yes"),
            Button(ctx._("No, they were used"), "claim:unused:no"),
        ]
        draft.options = [b.value for b in buttons]  # "1"/"2" where buttons are numbered lines
    else:
        text = ctx._(
            "Please send at least one photo or video of the defect. Our replacement policy needs visual "
            "evidence, so the claim is opened as soon as we have it.",
        )
    await ctx.reply(text, buttons=buttons)


def opened_text(ctx: Context, claim: Claim, excluded: str | None, files: int) -> str:
    n = claim.number
    parts = [
        ctx.ngettext(
            "Your claim number is {claim}. We received your report and {n} photo/video file.",
            "Your claim number is {claim}. We received your report and {n} photo/video files.",
            files,
            claim=n,
        )
    ]
    if claim.order_number and claim.order_id is None:
        parts.append(
            ctx._(
                "We could not match order {order} to your account; we recorded it as you "
                "gave it and our team will check it.",
                order=claim.order_number,
            )
        )
    if excluded:
        parts.append(_policy_note(ctx, excluded))
    parts.append(
        ctx._(
            "Next steps: 1) our QC team checks your photos and details; 2) we confirm responsibility; "
            "3) we arrange a replacement or a follow-up solution. "
            "You will get a message here at each step.",
        )
    )
    parts += _still_missing(ctx, claim)
    parts.append(
        ctx._(
            "To add photos later, send them with “more photos for {claim}”; "
            "to check progress, send “status {claim}”.",
            claim=n,
        )
    )
    return "\n".join(parts)


def _policy_note(ctx: Context, excluded: str) -> str:
    """Why the report looks excluded by the replacement policy; the claim is recorded all the same."""
    why = EXCLUDED_BECAUSE[excluded]
    return ctx._(
        "Please note: our replacement policy covers manufacturing or material defects on unused "
        "goods; it excludes used goods, misuse or improper handling, and shipping damage not "
        "caused by our factory. From your description, {why}, so this may not be covered. "
        "We have still "
        "recorded your claim and our team will review it and tell you the outcome.",
        why=ctx._(why),
    )


def _still_missing(ctx: Context, claim: Claim) -> list[str]:
    """The details the claim was opened without, asked for once more (no answer is required)."""
    missing = []
    if claim.quantity_affected is None:
        missing.append(ctx._("how many pieces are affected"))
    if claim.unused is None:
        missing.append(ctx._("whether the goods are unused"))
    if len(missing) == 2:
        return [
            ctx._(
                "If you can, please also tell us {first} and {second}.",
                first=missing[0],
                second=missing[1],
            )
        ]
    if missing:
        return [ctx._("If you can, please also tell us {what}.", what=missing[0])]
    return []
