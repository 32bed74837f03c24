"""Who may see an order: only a contact linked to the order's client.

An unlinked sender gets the same answer whether or not the number exists, and a route
to verification: an email sender whose domain is one of a client's `email_domains` is
linked on the spot (audited) only when authenticated, i.e. our receiving server reported
dmarc=pass for the From domain (`InboundMessage.sender_authenticated`); a missing, foreign or
unaligned verdict is no proof, since anyone can type a client's domain into `From`. Anyone
else is told a colleague will link them, and the request is audited so staff can find it.
"""

from __future__ import annotations

from bot.ids import candidates, fold
from bot.messages import Channel
from handlers.base import Context
from storage.models import Order
from storage.repos import audit, clients, orders


async def verified(ctx: Context) -> bool:
    """True when the sender may see their client's orders (linking email senders by domain)."""
    if ctx.client is not None:
        return True
    if ctx.message.channel == Channel.EMAIL:
        client = await clients.by_email_domain(ctx.session, ctx.message.channel_user_id)
        auth = ctx.message.extra.get("auth") or {}
        if client is not None and not ctx.message.sender_authenticated:
            await audit.record(
                ctx.session,
                "bot",
                "email_domain_link_refused",
                f"contact:{ctx.contact.id}",
                client=client.key,
                address=ctx.message.channel_user_id,
                auth=auth,
            )
            return False
        if client is not None:
            clients.link_contact(ctx.contact, client)
            ctx.client = client
            await audit.record(
                ctx.session,
                "bot",
                "contact_linked_by_email_domain",
                f"contact:{ctx.contact.id}",
                client=client.key,
                address=ctx.message.channel_user_id,
                auth=auth,
            )
            return True
    return False


async def refuse_unverified(ctx: Context, purpose: str) -> None:
    """No order data and no hint whether it exists; say how to get verified, and leave a trail."""
    await audit.record(
        ctx.session,
        "bot",
        "verification_needed",
        f"contact:{ctx.contact.id}",
        channel=str(ctx.message.channel),
        sender=ctx.message.channel_user_id,
        purpose=purpose,
    )
    await ctx.reply(
        ctx._(
            "For your security we can only share order details and documents with contacts linked to "
            "your company account, and this chat is not linked yet. A colleague will verify and link it "
            "— please reply with your company name. If you write from your company email address, "
            "we can link it automatically.",
        )
    )


async def not_found(ctx: Context) -> None:
    """The same words for "not yours" and "does not exist", and the number is not echoed."""
    await ctx.reply(
        ctx._(
            "We could not find that order number on your account. Please check the number "
            "(as on your PO, e.g. PO-YYYY-NNNN), or ask us to connect you with a colleague.",
        )
    )


async def find_own(ctx: Context) -> Order | None:
    """The order of this client named in the message, if any (None also when it is someone else's)."""
    assert ctx.client is not None
    return await orders.for_client(ctx.session, ctx.client.id, candidates(ctx.text))


def names_an_order(text: str) -> bool:
    return bool(candidates(fold(text)))
