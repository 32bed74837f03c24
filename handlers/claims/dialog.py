"""Defect claims from the client's side: from a photo or a complaint to a numbered claim.

A photo/video or defect words start a claim. A captioned photo that already names the
order and the defect opens it at once; otherwise the bot asks only for what is missing
(order, item, quantity, what is wrong, unused?, evidence), one question at a time, with
the client's recent orders and the order's items as buttons. Album photos arrive as
separate messages, handled one at a time: they join the draft or the claim they belong
to without a reply each. No photo or video, no claim. Reports that look excluded by the
policy (used goods, misuse, carrier damage) are explained, recorded and routed to staff.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.i18n import N_
from bot.ids import candidates, fold, order_key
from bot.messages import Button
from bot.states import ClaimState, ConversationState
from handlers.base import Context, Outcome
from handlers.claims import caps, labels, notices, parse
from handlers.claims import workflow as wf
from handlers.claims.ocr import LabelReader
from handlers.handoff import ASK_FOR_HUMAN
from handlers.menu import GREETING, PROMPTS, chosen
from storage.models import AttachmentRow, Claim, Order
from storage.repos import claims as repo
from storage.repos import orders as order_repo

DIALOG = wf.CLIENT_DIALOG
COLLECT_TTL = timedelta(hours=2)
ATTACH_TTL = timedelta(minutes=30)
QUIET_SECONDS = 120  # photo-only messages this soon after a question get no second copy of it
MAX_ASKS = {"order": 2, "sku": 1, "qty": 1, "unused": 1}
EXCLUDED_BECAUSE = {  # why a report looks excluded by the replacement policy, as the client reads it
    "used": N_("the goods were used"),
    "misuse": N_("the damage may come from misuse or improper handling"),
    "carrier": N_("the damage happened during shipping by a carrier"),
}
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


class ClaimIntake:
    name: str = DIALOG
    observer = False

    def __init__(self, reader: LabelReader | None = None) -> None:
        self.reader = reader  # carton labels: the order read on a photo (None: photos are not read)

    def matches(self, ctx: Context) -> bool:
        if ctx.staff is not None or ctx.conversation.state == ConversationState.WITH_STAFF:
            return False  # staff are not clients; while a colleague talks with the client, they lead
        if ctx.in_dialog(DIALOG) or chosen(ctx) == "claim":
            return True
        text = ctx.text
        if ASK_FOR_HUMAN.search(text) and not parse.is_defect_report(text):
            return False  # "talk to a person" (even with a photo) is the handoff's
        if any(a.kind in ("photo", "video") and a.sha256 for a in ctx.message.attachments):
            return True
        if text.startswith("/"):
            return False  # commands are for staff; a client's is plain text for the menu
        return bool(parse.claim_refs(text)) or parse.asks_claim_status(text) or parse.is_defect_report(text)

    async def handle(self, ctx: Context) -> Outcome:
        text = ctx.text
        state = ctx.dialog_state if ctx.in_dialog(DIALOG) else {}
        media = await repo.message_media(ctx.session, ctx.message_id)
        await labels.read_photos(self.reader, media)
        if chosen(ctx) == "claim":
            return await self._start_from_menu(ctx)
        if state and not media and not parse.is_defect_report(text):
            if parse.CANCEL.match(text):
                ctx.end_dialog()
                if state.get("step") not in ("attach", "info"):
                    await ctx.reply(ctx._("OK, nothing was submitted."))
                    return Outcome.DONE
                return Outcome.CONTINUE
            if text.startswith("menu:") or GREETING.match(text) or ASK_FOR_HUMAN.search(text):
                ctx.end_dialog()
                return Outcome.CONTINUE
        refs = parse.claim_refs(text)
        if not refs and media:
            # An email reply to a claim notice carries "[CLM-…]" in its subject, not in the body.
            extra = ctx.message.extra
            refs = parse.claim_refs(f"{extra.get('tag') or ''} {extra.get('subject') or ''}")
        if refs:
            return await self._about_claim(ctx, refs[0], media, text)
        if not media and parse.asks_claim_status(text) and not parse.is_defect_report(text):
            return await self._latest_status(ctx)
        step = state.get("step")
        if step in ("attach", "info"):
            outcome = await self._after_opening(ctx, state, media, text)
            if outcome is not None:
                return outcome
            state = {}
        if not state and media and not candidates(text):
            waiting = await repo.of_contact(
                ctx.session,
                ctx.contact,
                ctx.client.id if ctx.client else None,
                states={ClaimState.NEEDS_INFO},
            )
            if waiting:
                await self._add_to_claim(ctx, waiting[0], media, silent=False)
                return Outcome.DONE
        if not state and not media and not parse.is_defect_report(text):
            return Outcome.CONTINUE
        return await self._collect(ctx, state, media, text)

    # ---- starting ---------------------------------------------------------------------------

    async def _start_from_menu(self, ctx: Context) -> Outcome:
        draft: dict[str, Any] = {"step": "start", "asked": {}, "evidence": [], "texts": []}
        buttons = await self._order_buttons(ctx, draft)
        await ctx.reply(ctx._(PROMPTS["claim"]), buttons=buttons)
        ctx.start_dialog(DIALOG, draft, COLLECT_TTL)
        return Outcome.DONE

    async def _order_buttons(self, ctx: Context, draft: dict[str, Any]) -> list[Button]:
        if ctx.client is None:
            return []
        orders = await order_repo.recent_for_client(ctx.session, ctx.client.id)
        draft["options"] = [o.number for o in orders]
        return [Button(o.number, o.number) for o in orders]

    # ---- collecting the report ----------------------------------------------------------------

    async def _collect(
        self, ctx: Context, state: dict[str, Any], media: list[AttachmentRow], text: str
    ) -> Outcome:
        fresh = not state or state.get("step") in (None, "attach", "info")
        first = fresh or state.get("step") == "start"
        draft: dict[str, Any] = (
            {"step": None, "asked": {}, "evidence": [], "texts": []} if fresh else dict(state)
        )
        step = draft.get("step")
        kept = list(draft.get("evidence", []))
        draft["evidence"], dropped = caps.keep_files(kept, [a.id for a in media if a.id not in kept])
        if dropped:
            await caps.tell_once(ctx, draft, "files", caps.files_notice(ctx))
        answer = text
        options = list(draft.get("options") or [])
        if step in ("order", "sku", "unused", "start") and text.isdigit() and 1 <= int(text) <= len(options):
            answer = options[int(text) - 1]
        if text:
            draft["texts"] = caps.keep_text(list(draft.get("texts", [])), text)

        order = await self._read_order(ctx, draft, answer, step)
        order = order or await labels.order_on_label(ctx, draft, media)
        if order is not None:
            self._read_sku(draft, order, answer, step)
        qty = parse.quantity(answer, bare=(step == "qty"))
        if qty is not None:
            draft["qty"] = qty
        if answer == "claim:unused:yes":
            draft["unused"] = True
        elif answer == "claim:unused:no":
            draft["unused"] = False
        else:
            flag = parse.unused(answer, answer=(step == "unused"))
            if flag is not None:
                draft["unused"] = flag
        if parse.is_defect_report(answer) or (
            step == "description" and answer and not answer.startswith("claim:") and qty is None
        ):
            said = _without_order_number(answer, draft.get("order_number"))
            if said and said not in (draft.get("description") or ""):
                draft["description"], cut = caps.add_description(draft.get("description") or "", said)
                if cut:
                    await caps.tell_once(ctx, draft, "description", caps.description_notice(ctx))

        if first and draft["evidence"] and draft.get("order_number") and draft.get("description"):
            return await self._open(ctx, draft)
        missing = self._missing(draft)
        if missing is None:
            return await self._open(ctx, draft)
        quiet = (
            media
            and not text
            and missing == draft.get("asked_step")
            and (
                (ctx.message.media_group_id and ctx.message.media_group_id == draft.get("media_group"))
                or ctx.now.timestamp() - float(draft.get("asked_at") or 0) < QUIET_SECONDS
            )
        )
        draft["media_group"] = ctx.message.media_group_id or draft.get("media_group")
        if not quiet:
            await self._ask(ctx, draft, missing, order)
        ctx.start_dialog(DIALOG, draft, COLLECT_TTL)
        return Outcome.DONE

    async def _read_order(
        self, ctx: Context, draft: dict[str, Any], text: str, step: str | None
    ) -> Order | None:
        if draft.get("order_id"):
            return await order_repo.by_id(ctx.session, int(draft["order_id"]))
        keys = candidates(text)
        if ctx.client is not None:
            for key in keys:
                order = await order_repo.for_client(ctx.session, ctx.client.id, [key])
                if order is not None:
                    draft.update(order_id=order.id, order_number=order.number, order_unknown=False)
                    return order
        if not draft.get("order_number"):
            for key in keys:
                if sum(c.isdigit() for c in key) >= 5:
                    draft.update(order_id=None, order_number=_as_typed(text, key), order_unknown=True)
                    break
        return None

    def _read_sku(self, draft: dict[str, Any], order: Order, text: str, step: str | None) -> None:
        if draft.get("sku"):
            return
        lines = order.lines
        if len(lines) == 1:
            draft.update(sku=lines[0].sku, line_id=lines[0].id)
            return
        draft["multi_line"] = len(lines) > 1
        key = order_key(text)
        for line in lines:
            sku_key = order_key(line.sku)
            if sku_key and (sku_key in key or text.strip().upper() == line.sku.upper()):
                draft.update(sku=line.sku, line_id=line.id)
                return

    def _missing(self, d: dict[str, Any]) -> str | None:
        asked = d.get("asked", {})
        if not d.get("order_number") and asked.get("order", 0) < MAX_ASKS["order"]:
            return "order"
        if d.get("order_id") and d.get("multi_line") and not d.get("sku") and asked.get("sku", 0) < 1:
            return "sku"
        if d.get("qty") is None and asked.get("qty", 0) < 1:
            return "qty"
        if not d.get("description"):
            return "description"
        if d.get("unused") is None and asked.get("unused", 0) < 1:
            return "unused"
        if not d.get("evidence"):
            return "evidence"
        return None

    async def _ask(self, ctx: Context, draft: dict[str, Any], what: str, order: Order | None) -> None:
        asked = dict(draft.get("asked", {}))
        asked[what] = asked.get(what, 0) + 1
        draft.update(asked=asked, step=what, asked_step=what, asked_at=ctx.now.timestamp(), options=[])
        buttons: list[Button] = []
        if what == "order":
            text = ctx._(
                "Which order is this about? Please send the order number (for example PO-2026-0117).",
            )
            buttons = await self._order_buttons(ctx, draft)
            if buttons:
                text += ctx._(" Or choose one of your recent orders:")
        elif what == "sku":
            lines = order.lines if order else []
            draft["options"] = [ln.sku for ln in lines]
            buttons = [Button(f"{ln.sku} {ln.description}"[:60], ln.sku) for ln in lines]
            text = ctx._("Which item of {order} is affected?", order=draft.get("order_number"))
        elif what == "qty":
            text = ctx._("How many pieces are affected?")
        elif what == "description":
            text = ctx._(
                "What is wrong with the goods? (for example: strap torn, zipper broken, stitching loose)",
            )
        elif what == "unused":
            text = ctx._(
                "Are the affected goods unused (not used since delivery)?",
            )
            buttons = [
                Button(ctx._("Yes, unused"), "claim:unused:yes"),
                Button(ctx._("No, they were used"), "claim:unused:no"),
            ]
            draft["options"] = [b.value for b in buttons]  # "1"/"2" where buttons are numbered lines
        else:
            text = ctx._(
                "Please send at least one photo or video of the defect. Our replacement policy needs visual "
                "evidence, so the claim is opened as soon as we have it.",
            )
        await ctx.reply(text, buttons=buttons)

    async def _open(self, ctx: Context, draft: dict[str, Any]) -> Outcome:
        all_text = " ".join(draft.get("texts", []))
        unused = draft.get("unused")
        excluded = parse.exclusion(all_text, unused)
        claim = await repo.create(
            ctx.session,
            now=ctx.now,
            by=actor(ctx),
            client_id=ctx.client.id if ctx.client else None,
            contact_id=ctx.contact.id,
            conversation_id=ctx.conversation.id,
            order_id=draft.get("order_id"),
            order_number=draft.get("order_number"),
            order_line_id=draft.get("line_id"),
            sku=draft.get("sku"),
            quantity_affected=draft.get("qty"),
            description=(draft.get("description") or "")[: caps.MAX_DESCRIPTION],
            category=parse.category(draft.get("description") or ""),
            unused=unused,
            eligibility=f"excluded:{excluded}" if excluded else "eligible",
            language=ctx.language,
        )
        files = await repo.attachments_by_id(ctx.session, list(draft.get("evidence", [])))
        added = await wf.add_evidence(ctx.session, claim, files, by=actor(ctx), now=ctx.now)
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
        await ctx.reply(self._opened_text(ctx, claim, excluded, len(added.rows)), extra={"tag": claim.number})
        ctx.start_dialog(
            DIALOG,
            {"step": "attach", "claim": claim.number, "media_group": ctx.message.media_group_id},
            ATTACH_TTL,
        )
        return Outcome.DONE

    def _opened_text(self, ctx: Context, claim: Claim, excluded: str | None, files: int) -> str:
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
            why = EXCLUDED_BECAUSE[excluded]
            parts.append(
                ctx._(
                    "Please note: our replacement policy covers manufacturing or material defects on unused "
                    "goods; it excludes used goods, misuse or improper handling, and shipping damage not "
                    "caused by our factory. From your description, {why}, so this may not be covered. "
                    "We have still "
                    "recorded your claim and our team will review it and tell you the outcome.",
                    why=ctx._(why),
                )
            )
        parts.append(
            ctx._(
                "Next steps: 1) our QC team checks your photos and details; 2) we confirm responsibility; "
                "3) we arrange a replacement or a follow-up solution. "
                "You will get a message here at each step.",
            )
        )
        missing = []
        if claim.quantity_affected is None:
            missing.append(ctx._("how many pieces are affected"))
        if claim.unused is None:
            missing.append(ctx._("whether the goods are unused"))
        if len(missing) == 2:
            parts.append(
                ctx._(
                    "If you can, please also tell us {first} and {second}.",
                    first=missing[0],
                    second=missing[1],
                )
            )
        elif missing:
            parts.append(ctx._("If you can, please also tell us {what}.", what=missing[0]))
        parts.append(
            ctx._(
                "To add photos later, send them with “more photos for {claim}”; "
                "to check progress, send “status {claim}”.",
                claim=n,
            )
        )
        return "\n".join(parts)

    # ---- after the claim is open: more photos, missing details, answers to staff questions ------

    async def _after_opening(
        self, ctx: Context, state: dict[str, Any], media: list[AttachmentRow], text: str
    ) -> Outcome | None:
        claim = await repo.find(ctx.session, str(state.get("claim", "")))
        if claim is None:
            ctx.end_dialog()
            return None
        new_order = [k for k in candidates(text) if order_key(claim.order_number or "") != k]
        if new_order and parse.is_defect_report(text):
            ctx.end_dialog()
            return None  # a report about another order: a new claim
        if media:
            silent = bool(
                ctx.message.media_group_id and ctx.message.media_group_id == state.get("media_group")
            )
            told = await self._add_to_claim(
                ctx, claim, media, silent=silent and not text, full_told=bool(state.get("full_told"))
            )
            step = "info" if claim.state == ClaimState.NEEDS_INFO else "attach"
            ctx.start_dialog(
                DIALOG,
                {**state, "step": step, "media_group": ctx.message.media_group_id, "full_told": told},
                ATTACH_TTL,
            )
            return Outcome.DONE
        if state.get("step") == "info" and text:
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
        updated = self._update_details(ctx, claim, text)
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

    def _update_details(self, ctx: Context, claim: Claim, text: str) -> list[str]:
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

    async def _add_to_claim(
        self, ctx: Context, claim: Claim, media: list[AttachmentRow], *, silent: bool, full_told: bool = False
    ) -> bool:
        """Add the files; True once the client has been told the claim is full (an album: told once)."""
        added = await wf.add_evidence(ctx.session, claim, media, by=actor(ctx), now=ctx.now)
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
            await ctx.reply(
                ctx.ngettext(
                    "Added to {claim}: {n} file, {total} in total.",
                    "Added to {claim}: {n} files, {total} in total.",
                    len(added.rows),
                    claim=claim.number,
                    total=len(claim.evidence),
                )
            )
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

    async def _latest_status(self, ctx: Context) -> Outcome:
        mine = await repo.of_contact(ctx.session, ctx.contact, ctx.client.id if ctx.client else None)
        if not mine:
            await ctx.reply(
                ctx._(
                    "We have no claim from you yet. "
                    "To report a defect, send photos of it with the order number.",
                )
            )
        else:
            await ctx.reply(notices.status_text(mine[0], ctx.translator))
        return Outcome.DONE

    async def _about_claim(self, ctx: Context, ref: str, media: list[AttachmentRow], text: str) -> Outcome:
        claim = await repo.find(ctx.session, ref)
        mine = claim is not None and (
            claim.contact_id == ctx.contact.id
            or (ctx.client is not None and claim.client_id == ctx.client.id)
        )
        if claim is None or not mine:
            await ctx.reply(
                ctx._("We could not find claim {claim} for you. Please check the number.", claim=ref)
            )
            return Outcome.DONE
        if media:
            told = await self._add_to_claim(ctx, claim, media, silent=False)
            ctx.start_dialog(
                DIALOG,
                {
                    "step": "attach",
                    "claim": claim.number,
                    "media_group": ctx.message.media_group_id,
                    "full_told": told,
                },
                ATTACH_TTL,
            )
            return Outcome.DONE
        if parse.MORE_EVIDENCE.search(parse.without_claim_refs(text)):
            ctx.start_dialog(DIALOG, {"step": "attach", "claim": claim.number}, ATTACH_TTL)
            await ctx.reply(
                ctx._(
                    "Please send the photos or videos now; they will be added to {claim}.", claim=claim.number
                )
            )
            return Outcome.DONE
        await ctx.reply(notices.status_text(claim, ctx.translator))
        return Outcome.DONE
