"""Defect claims from the client's side: from a photo or a complaint to a numbered claim.

A photo/video or defect words start a claim. A captioned photo that already names the
order and the defect opens it at once; otherwise the bot asks only for what is missing
(order, item, quantity, what is wrong, unused?, evidence), one question at a time, with
the client's recent orders and the order's items as buttons. Album photos arrive as
separate messages, handled one at a time: they join the draft or the claim they belong
to without a reply each. No photo or video, no claim. Reports that look excluded by the
policy (used goods, misuse, carrier damage) are explained, recorded and routed to staff.

This module routes a message to the dialog's parts: intake.py collects the report and
opens the claim, prompts.py words the questions, adding.py takes what comes after; the
steps and their order are in steps.py, what is remembered between messages in draft.py.
"""

from __future__ import annotations

from bot.ids import candidates
from bot.states import ClaimState, ConversationState
from handlers.base import Context, Outcome
from handlers.claims import adding, intake, labels, notices, parse, prompts
from handlers.claims.checks import EvidenceRules
from handlers.claims.draft import ClaimDraft
from handlers.claims.ocr import LabelReader
from handlers.claims.steps import AFTER_OPENING, ATTACH_TTL, COLLECT_TTL, DIALOG, Step
from handlers.handoff import ASK_FOR_HUMAN
from handlers.menu import GREETING, PROMPTS, chosen
from storage.models import AttachmentRow
from storage.repos import claims as repo


class ClaimIntake:
    name: str = DIALOG
    observer = False

    def __init__(self, reader: LabelReader | None = None, rules: EvidenceRules | None = None) -> None:
        self.reader = reader  # carton labels: the order read on a photo (None: photos are not read)
        self.rules = rules  # photo quality and the shot list; None: photos are not checked

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
        state = ClaimDraft.from_json(ctx.dialog_state) if ctx.in_dialog(DIALOG) and ctx.dialog_state else None
        media = await repo.message_media(ctx.session, ctx.message_id)
        await labels.read_photos(self.reader, media)
        if chosen(ctx) == "claim":
            return await self._start_from_menu(ctx)
        if state is not None and not media and not parse.is_defect_report(text):
            if parse.CANCEL.match(text):
                ctx.end_dialog()
                if state.step not in AFTER_OPENING:
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
        if state is not None and state.step in AFTER_OPENING:
            outcome = await adding.after_opening(ctx, state, media, text, self.rules)
            if outcome is not None:
                return outcome
            state = None
        if state is None and media and not candidates(text):
            waiting = await repo.of_contact(
                ctx.session,
                ctx.contact,
                ctx.client.id if ctx.client else None,
                states={ClaimState.NEEDS_INFO},
            )
            if waiting:
                await adding.add_to_claim(ctx, waiting[0], media, silent=False, rules=self.rules)
                return Outcome.DONE
        if state is None and not media and not parse.is_defect_report(text):
            return Outcome.CONTINUE
        return await intake.collect(ctx, state, media, text, self.rules)

    # ---- starting ---------------------------------------------------------------------------

    async def _start_from_menu(self, ctx: Context) -> Outcome:
        draft = ClaimDraft()
        draft.go(Step.START)
        buttons = await prompts.order_buttons(ctx, draft)
        await ctx.reply(ctx._(PROMPTS["claim"]), buttons=buttons)
        ctx.start_dialog(DIALOG, draft.to_json(), COLLECT_TTL)
        return Outcome.DONE

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
            told = await adding.add_to_claim(ctx, claim, media, silent=False, rules=self.rules)
            ctx.start_dialog(
                DIALOG,
                ClaimDraft()
                .opened(Step.ATTACH, claim.number, media_group=ctx.message.media_group_id, full_told=told)
                .to_json(),
                ATTACH_TTL,
            )
            return Outcome.DONE
        if parse.MORE_EVIDENCE.search(parse.without_claim_refs(text)):
            ctx.start_dialog(DIALOG, ClaimDraft().opened(Step.ATTACH, claim.number).to_json(), ATTACH_TTL)
            await ctx.reply(
                ctx._(
                    "Please send the photos or videos now; they will be added to {claim}.", claim=claim.number
                )
            )
            return Outcome.DONE
        await ctx.reply(notices.status_text(claim, ctx.translator))
        return Outcome.DONE
