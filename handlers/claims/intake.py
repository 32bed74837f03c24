"""Collecting the client's report into a draft, and opening the claim once it is complete enough.

Each message may answer several questions at once (a caption naming the order, the
quantity and the defect): every answer found is read, then the first one still missing
is asked (steps.COLLECTING). A report with evidence, an order and a description that
came in one go is opened at once without further questions.
"""

from __future__ import annotations

import re

from bot.ids import candidates, fold, order_key
from handlers.base import Context, Outcome
from handlers.claims import asks, caps, labels, parse, prompts
from handlers.claims import workflow as wf
from handlers.claims.checks import EvidenceRules
from handlers.claims.draft import ClaimDraft
from handlers.claims.steps import (
    AFTER_OPENING,
    ATTACH_TTL,
    COLLECT_TTL,
    DIALOG,
    MAX_ASKS,
    QUIET_SECONDS,
    Step,
)
from storage.models import AttachmentRow, Order
from storage.repos import claims as repo
from storage.repos import orders as order_repo

_NUMBERISH = re.compile(r"[A-Za-z]{0,5}[\s\-_#/.:]{0,3}\d[\d\s\-_/.]*\d")


def actor(ctx: Context) -> str:
    return f"client:{ctx.message.channel}:{ctx.message.channel_user_id}"


def _as_typed(text: str, key: str) -> str:
    """The order number as the client wrote it (for one we cannot find, the key otherwise)."""
    for m in _NUMBERISH.finditer(fold(text)):
        if order_key(m.group(0)) == key:
            return m.group(0).strip()
    return key


def _without_order_number(text: str, number: str | None) -> str:
    """What is wrong, without the order number the client put in front of it."""
    if number:
        key = order_key(number)

        def drop(m: re.Match[str]) -> str:
            return "" if order_key(m.group(0)) == key else m.group(0)

        cleaned = _NUMBERISH.sub(drop, text)
        if cleaned == text:  # full-width digits only match once folded; else keep the client's characters
            folded = fold(text)
            refolded = _NUMBERISH.sub(drop, folded)
            cleaned = refolded if refolded != folded else text
        text = cleaned
    return text.strip(" \t\n,.;:-–—，。；：")


async def collect(
    ctx: Context,
    state: ClaimDraft | None,
    media: list[AttachmentRow],
    text: str,
    rules: EvidenceRules | None = None,
) -> Outcome:
    fresh = state is None or state.step in (None, *AFTER_OPENING)
    first = fresh or (state is not None and state.step == Step.START)
    draft = ClaimDraft() if fresh or state is None else state
    step = draft.step
    kept = list(draft.evidence)
    draft.evidence, dropped = caps.keep_files(kept, [a.id for a in media if a.id not in kept])
    if dropped:
        await caps.tell_once(ctx, draft, "files", caps.files_notice(ctx))
    answer = text
    options = list(draft.options)
    if (
        step in (Step.ORDER, Step.SKU, Step.UNUSED, Step.START)
        and text.isdigit()
        and 1 <= int(text) <= len(options)
    ):
        answer = options[int(text) - 1]
    if text:
        draft.texts = caps.keep_text(list(draft.texts), text)
    order = await _read_answers(ctx, draft, answer, step, media)

    if first and draft.evidence and draft.order_number and draft.description:
        return await open_claim(ctx, draft, rules)
    missing = missing_step(draft)
    if missing is None:
        return await open_claim(ctx, draft, rules)
    quiet = (
        media
        and not text
        and missing == draft.asked_step
        and (
            (ctx.message.media_group_id and ctx.message.media_group_id == draft.media_group)
            or ctx.now.timestamp() - draft.asked_at < QUIET_SECONDS
        )
    )
    draft.media_group = ctx.message.media_group_id or draft.media_group
    if not quiet:
        await prompts.ask(ctx, draft, missing, order)
    ctx.start_dialog(DIALOG, draft.to_json(), COLLECT_TTL)
    return Outcome.DONE


async def _read_answers(
    ctx: Context, draft: ClaimDraft, answer: str, step: Step | None, media: list[AttachmentRow]
) -> Order | None:
    """Every answer this message gives (order, item, quantity, unused?, what is wrong) into the draft."""
    order = await _read_order(ctx, draft, answer, step)
    order = order or await labels.order_on_label(ctx, draft, media)
    if order is not None:
        _read_sku(draft, order, answer, step)
    qty = parse.quantity(answer, bare=(step == Step.QTY))
    if qty is not None:
        draft.qty = qty
    if answer == "claim:unused:yes":
        draft.unused = True
    elif answer == "claim:unused:no":
        draft.unused = False
    else:
        flag = parse.unused(answer, answer=(step == Step.UNUSED))
        if flag is not None:
            draft.unused = flag
    if parse.is_defect_report(answer) or (
        step == Step.DESCRIPTION and answer and not answer.startswith("claim:") and qty is None
    ):
        said = _without_order_number(answer, draft.order_number)
        if said and said not in (draft.description or ""):
            draft.description, cut = caps.add_description(draft.description or "", said)
            if cut:
                await caps.tell_once(ctx, draft, "description", caps.description_notice(ctx))
    return order


async def _read_order(ctx: Context, draft: ClaimDraft, text: str, step: Step | None) -> Order | None:
    if draft.order_id:
        return await order_repo.by_id(ctx.session, int(draft.order_id))
    keys = candidates(text)
    if ctx.client is not None:
        for key in keys:
            order = await order_repo.for_client(ctx.session, ctx.client.id, [key])
            if order is not None:
                draft.order_id, draft.order_number, draft.order_unknown = order.id, order.number, False
                return order
    if not draft.order_number:
        for key in keys:
            if sum(c.isdigit() for c in key) >= 5:
                draft.order_id, draft.order_number, draft.order_unknown = None, _as_typed(text, key), True
                break
    return None


def _read_sku(draft: ClaimDraft, order: Order, text: str, step: Step | None) -> None:
    if draft.sku:
        return
    lines = order.lines
    if len(lines) == 1:
        draft.sku, draft.line_id = lines[0].sku, lines[0].id
        return
    draft.multi_line = len(lines) > 1
    key = order_key(text)
    for line in lines:
        sku_key = order_key(line.sku)
        if sku_key and (sku_key in key or text.strip().upper() == line.sku.upper()):
            draft.sku, draft.line_id = line.sku, line.id
            return


def missing_step(d: ClaimDraft) -> Step | None:
    """The first question still to ask (steps.COLLECTING order), or None: the claim can be opened."""
    asked = d.asked
    if not d.order_number and asked.get(Step.ORDER, 0) < MAX_ASKS[Step.ORDER]:
        return Step.ORDER
    if d.order_id and d.multi_line and not d.sku and asked.get(Step.SKU, 0) < 1:
        return Step.SKU
    if d.qty is None and asked.get(Step.QTY, 0) < 1:
        return Step.QTY
    if not d.description:
        return Step.DESCRIPTION
    if d.unused is None and asked.get(Step.UNUSED, 0) < 1:
        return Step.UNUSED
    if not d.evidence:
        return Step.EVIDENCE
    return None


async def open_claim(ctx: Context, draft: ClaimDraft, rules: EvidenceRules | None = None) -> Outcome:
    all_text = " ".join(draft.texts)
    unused = draft.unused
    excluded = parse.exclusion(all_text, unused)
    claim = await repo.create(
        ctx.session,
        now=ctx.now,
        by=actor(ctx),
        client_id=ctx.client.id if ctx.client else None,
        contact_id=ctx.contact.id,
        conversation_id=ctx.conversation.id,
        order_id=draft.order_id,
        order_number=draft.order_number,
        order_line_id=draft.line_id,
        sku=draft.sku,
        quantity_affected=draft.qty,
        description=(draft.description or "")[: caps.MAX_DESCRIPTION],
        category=parse.category(draft.description or ""),
        unused=unused,
        eligibility=f"excluded:{excluded}" if excluded else "eligible",
        language=ctx.language,
    )
    files = await repo.attachments_by_id(ctx.session, list(draft.evidence))
    added = await wf.add_evidence(ctx.session, claim, files, by=actor(ctx), now=ctx.now, rules=rules)
    await repo.get(ctx.session, claim.id)
    await wf.notify_qc(
        ctx.session,
        claim,
        headline=lambda tr: tr._("New claim {claim}", claim=claim.number),
        files=added.rows,
        duplicates=added.duplicates,
        tag="new",
        cause_message_id=ctx.message_id,
    )
    ask = asks.follow_up(ctx.translator, claim, added.checked, rules)
    opened = prompts.opened_text(ctx, claim, excluded, len(added.rows))
    await ctx.reply(asks.appended(opened, ask), extra={"tag": claim.number})
    ctx.start_dialog(
        DIALOG,
        draft.opened(Step.ATTACH, claim.number, media_group=ctx.message.media_group_id).to_json(),
        ATTACH_TTL,
    )
    return Outcome.DONE
