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

from bot.ids import candidates, fold, order_key
from bot.messages import Button
from handlers.base import Context, Outcome
from handlers.claims import caps, parse
from handlers.claims import workflow as wf
from handlers.handoff import ASK_FOR_HUMAN
from handlers.menu import GREETING, PROMPTS, chosen
from storage.models import AttachmentRow, Claim, Order
from storage.repos import claims as repo

DIALOG = wf.CLIENT_DIALOG
COLLECT_TTL = timedelta(hours=2)
ATTACH_TTL = timedelta(minutes=30)
QUIET_SECONDS = 120  # photo-only messages this soon after a question get no second copy of it
MAX_ASKS = {"order": 2, "sku": 1, "qty": 1, "unused": 1}
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
    name = DIALOG
    observer = False

    def matches(self, ctx: Context) -> bool:
        if ctx.staff is not None or ctx.conversation.state == "with_staff":
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
        if chosen(ctx) == "claim":
            return await self._start_from_menu(ctx)
        if state and not media and not parse.is_defect_report(text):
            if parse.CANCEL.match(text):
                ctx.end_dialog()
                if state.get("step") not in ("attach", "info"):
                    await ctx.reply(ctx.tr("OK, nothing was submitted.", "好的，已取消，未提交任何内容。"))
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
                ctx.session, ctx.contact, ctx.client.id if ctx.client else None, states={"needs_info"}
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
        await ctx.reply(ctx.tr(*PROMPTS["claim"]), buttons=buttons)
        ctx.start_dialog(DIALOG, draft, COLLECT_TTL)
        return Outcome.DONE

    async def _order_buttons(self, ctx: Context, draft: dict[str, Any]) -> list[Button]:
        if ctx.client is None:
            return []
        orders = await repo.recent_orders(ctx.session, ctx.client.id)
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
            return await repo.order_with_lines(ctx.session, int(draft["order_id"]))
        keys = candidates(text)
        if ctx.client is not None:
            for key in keys:
                order = await repo.client_order(ctx.session, ctx.client.id, key)
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
            text = ctx.tr(
                "Which order is this about? Please send the order number (for example PO-2026-0117).",
                "请问是哪个订单？请发送订单号（例如 PO-2026-0117）。",
            )
            buttons = await self._order_buttons(ctx, draft)
            if buttons:
                text += ctx.tr(" Or choose one of your recent orders:", "也可以从您最近的订单中选择：")
        elif what == "sku":
            lines = order.lines if order else []
            draft["options"] = [ln.sku for ln in lines]
            buttons = [Button(f"{ln.sku} {ln.description}"[:60], ln.sku) for ln in lines]
            text = ctx.tr(
                f"Which item of {draft.get('order_number')} is affected?",
                f"订单 {draft.get('order_number')} 中哪一款产品有问题？",
            )
        elif what == "qty":
            text = ctx.tr("How many pieces are affected?", "请问有多少件受影响？")
        elif what == "description":
            text = ctx.tr(
                "What is wrong with the goods? (for example: strap torn, zipper broken, stitching loose)",
                "请描述具体问题（例如：肩带撕裂、拉链坏了、开线）。",
            )
        elif what == "unused":
            text = ctx.tr(
                "Are the affected goods unused (not used since delivery)?",
                "受影响的货物是否未使用过（到货后未使用）？",
            )
            buttons = [
                Button(ctx.tr("Yes, unused", "是，未使用"), "claim:unused:yes"),
                Button(ctx.tr("No, they were used", "否，已使用"), "claim:unused:no"),
            ]
            draft["options"] = [b.value for b in buttons]  # "1"/"2" where buttons are numbered lines
        else:
            text = ctx.tr(
                "Please send at least one photo or video of the defect. Our replacement policy needs visual "
                "evidence, so the claim is opened as soon as we have it.",
                "请至少发送一张问题产品的照片或一段视频。根据我们的更换政策，需要有图片或视频证据，收到后即为您建立索赔。",
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
            headline=f"New claim {claim.number}",
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
            ctx.tr(
                f"Your claim number is {n}. We received your report and {files} photo/video file(s).",
                f"您的索赔编号是 {n}。我们已收到您的报告和 {files} 个照片/视频文件。",
            )
        ]
        if claim.order_number and claim.order_id is None:
            parts.append(
                ctx.tr(
                    f"We could not match order {claim.order_number} to your account; we recorded it as you "
                    "gave it and our team will check it.",
                    f"我们未能在您的账户中找到订单 {claim.order_number}，"
                    "已按您提供的号码记录，我们的团队会核实。",
                )
            )
        if excluded:
            why = {
                "used": ("the goods were used", "货物已被使用"),
                "misuse": (
                    "the damage may come from misuse or improper handling",
                    "损坏可能源于使用不当或搬运不当",
                ),
                "carrier": ("the damage happened during shipping by a carrier", "损坏发生在承运商运输途中"),
            }[excluded]
            parts.append(
                ctx.tr(
                    "Please note: our replacement policy covers manufacturing or material defects on unused "
                    "goods; it excludes used goods, misuse or improper handling, and shipping damage not "
                    f"caused by our factory. From your description, {why[0]}, so this may not be covered. "
                    "We have still "
                    "recorded your claim and our team will review it and tell you the outcome.",
                    "请注意：我们的更换政策适用于未使用产品的生产或材料缺陷，不包括已使用的货物、使用或搬运不当，"
                    f"以及非工厂原因造成的运输损坏。根据您的描述，{why[1]}，因此可能不在更换范围内。"
                    "我们仍已记录您的索赔，团队会审核并告知您结果。",
                )
            )
        parts.append(
            ctx.tr(
                "Next steps: 1) our QC team checks your photos and details; 2) we confirm responsibility; "
                "3) we arrange a replacement or a follow-up solution. "
                "You will get a message here at each step.",
                "后续流程：1）质检团队审核您的照片和信息；2）确认责任；3）安排更换或后续解决方案。每一步我们都会在这里通知您。",
            )
        )
        missing = []
        if claim.quantity_affected is None:
            missing.append(ctx.tr("how many pieces are affected", "受影响的数量"))
        if claim.unused is None:
            missing.append(ctx.tr("whether the goods are unused", "货物是否未使用"))
        if missing:
            parts.append(
                ctx.tr(
                    f"If you can, please also tell us {' and '.join(missing)}.",
                    f"如方便，请同时告诉我们{'和'.join(missing)}。",
                )
            )
        parts.append(
            ctx.tr(
                f"To add photos later, send them with “more photos for {n}”; "
                f"to check progress, send “status {n}”.",
                f"如需补充照片，请发送照片并注明“补充 {n}”；查询进度请发送“{n} 状态”。",
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
            step = "info" if claim.state == "needs_info" else "attach"
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
                headline=f"Client answered on {claim.number}: {caps.clip(text, 500)}",
                brief=True,
                files=[],
                duplicates=[],
                tag=f"answer{ctx.message_id}",
                cause_message_id=ctx.message_id,
            )
            await ctx.reply(
                ctx.tr(
                    f"Thank you, we passed your answer to our QC team ({claim.number}). "
                    "Photos or a video help the most if you have them.",
                    f"谢谢，您的回复已转给质检团队（{claim.number}）。如有照片或视频，会更有帮助。",
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
            await ctx.reply(
                ctx.tr(f"Thank you, we added this to {claim.number}.", f"谢谢，已补充到索赔 {claim.number}。")
            )
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
        if added.refused and not (silent and full_told):
            await ctx.reply(caps.files_notice(ctx, claim.number))
            full_told = True
        if not added.rows:
            if not silent and not added.refused:
                await ctx.reply(
                    ctx.tr(
                        f"We already have these files on {claim.number}.",
                        f"索赔 {claim.number} 已有这些文件。",
                    )
                )
            return full_told
        if claim.state == "needs_info":
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
                ctx.tr(
                    f"Added to {claim.number}: {len(added.rows)} file(s), {len(claim.evidence)} in total.",
                    f"已添加到索赔 {claim.number}：{len(added.rows)} 个文件，共 {len(claim.evidence)} 个。",
                )
            )
        await repo.get(ctx.session, claim.id)
        await wf.notify_qc(
            ctx.session,
            claim,
            headline=f"More evidence for {claim.number}",
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
                ctx.tr(
                    "We have no claim from you yet. "
                    "To report a defect, send photos of it with the order number.",
                    "目前没有您的索赔记录。如需报告质量问题，请发送问题照片并注明订单号。",
                )
            )
        else:
            await ctx.reply(wf.status_text(mine[0], ctx.language))
        return Outcome.DONE

    async def _about_claim(self, ctx: Context, ref: str, media: list[AttachmentRow], text: str) -> Outcome:
        claim = await repo.find(ctx.session, ref)
        mine = claim is not None and (
            claim.contact_id == ctx.contact.id
            or (ctx.client is not None and claim.client_id == ctx.client.id)
        )
        if claim is None or not mine:
            await ctx.reply(
                ctx.tr(
                    f"We could not find claim {ref} for you. Please check the number.",
                    f"未找到您的索赔 {ref}，请核对编号。",
                )
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
                ctx.tr(
                    f"Please send the photos or videos now; they will be added to {claim.number}.",
                    f"请现在发送照片或视频，我们会添加到索赔 {claim.number}。",
                )
            )
            return Outcome.DONE
        await ctx.reply(wf.status_text(claim, ctx.language))
        return Outcome.DONE
