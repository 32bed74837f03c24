"""Repeat-order memory: a new order whose SKUs had claims or prevention notes before is
briefed to sales and QC, each in their own language, before production starts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import ENGLISH, Translator
from bot.messages import Channel, OutboundMessage
from storage.models import Client, Order
from storage.repos import orders, outbox
from storage.repos import staff as staff_repo

BRIEF_ROLES = ("sales", "qc")


def brief_text(client: Client, order: Order, prior: list[dict[str, Any]], tr: Translator = ENGLISH) -> str:
    lines = [
        tr._("Repeat-order brief: {order} ({client})", order=order.number, client=client.name),
        tr._("Earlier problems with these SKUs — check before production and shipment:"),
    ]
    for item in prior:
        cats = ", ".join(f"{k} ×{v}" for k, v in item["categories"].items()) or "-"
        res = ", ".join(f"{k} ×{v}" for k, v in item["resolutions"].items()) or "-"
        lines.append(
            f"{item['sku']}: "
            + tr.ngettext(
                "{n} claim from this client, {others} from others; "
                "defects: {defects}; resolutions: {resolutions}",
                "{n} claims from this client, {others} from others; "
                "defects: {defects}; resolutions: {resolutions}",
                item["claims_same_client"],
                others=item["claims_other_clients"],
                defects=cats,
                resolutions=res,
            )
        )
        for claim in item["claims"][:5]:
            who = tr._("this client") if claim["same_client"] else tr._("other client")
            lines.append(
                "  · "
                + tr._(
                    "{claim} ({who}, order {order}): {category} — {outcome}",
                    claim=claim["id"],
                    who=who,
                    order=claim["order"] or "-",
                    category=claim["category"] or "-",
                    outcome=claim["resolution"] or claim["state"],
                )
            )
        for note in item["notes"]:
            lines.append("  ▸ " + tr._("prevention note ({by}): {note}", by=note["by"], note=note["note"]))
    return "\n".join(lines)


async def send_repeat_brief(session: AsyncSession, client: Client, order: Order) -> int:
    prior = await orders.prior_issues(
        session, client.id, [line.sku for line in order.lines], exclude_order_id=order.id
    )
    if not prior:
        return 0
    sent = 0
    seen: set[str] = set()
    for role in BRIEF_ROLES:
        for member in await staff_repo.with_role(session, role):
            if member.key in seen:
                continue
            seen.add(member.key)
            contact = staff_repo.preferred_contact(member)
            if contact is None:
                continue
            await outbox.enqueue(
                session,
                OutboundMessage(
                    channel=Channel(contact[0]),
                    channel_user_id=contact[1],
                    text=brief_text(client, order, prior, Translator.for_language(member.language)),
                    idempotency_key=f"repeat-brief:{order.id}:{member.key}",
                ),
                kind="alert",
            )
            sent += 1
    return sent
