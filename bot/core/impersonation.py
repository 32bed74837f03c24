"""A mail from a staff address that our receiving server did not vouch for.

Such a mail is handled as from anybody else (no commands, relays or acknowledgements), so the
only question left is who should know. Every one is in the audit log; staff get one alert an
hour at most, the hour held in the database so several bot processes share it, and none for a
mail that is not answered anyway (an auto-reply or bounce), so that an alert bouncing back or
an out-of-office reply to it cannot feed a loop of alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.messages import Channel, InboundMessage, OutboundMessage
from storage.models import Staff, utcnow
from storage.repos import audit, outbox, throttle
from storage.repos import staff as staff_repo

ALERT_EVERY = timedelta(hours=1)
THROTTLE = "alert:email-staff-spoof"
ACTION = "email_staff_spoof_suspected"


def _reason(inbound: InboundMessage) -> str:
    auth = inbound.extra.get("auth")
    return str(auth.get("reason")) if isinstance(auth, dict) and auth.get("reason") else "not authenticated"


async def suspected_spoof(
    session: AsyncSession,
    inbound: InboundMessage,
    claimed: Staff,
    message_id: int,
    now: datetime | None = None,
) -> bool:
    """Audit the mail and, at most once per ALERT_EVERY, alert every active staff member.

    Returns whether an alert was queued.
    """
    reason = _reason(inbound)
    await audit.record(
        session,
        "bot",
        ACTION,
        f"staff:{claimed.key}",
        address=inbound.channel_user_id,
        message=message_id,
        message_id=inbound.provider_message_id,
        auth=inbound.extra.get("auth"),
    )
    if inbound.extra.get("no_reply"):
        return False
    if not await throttle.take(session, THROTTLE, now or utcnow(), ALERT_EVERY):
        return False
    who = claimed.name or claimed.key
    for member in await staff_repo.all_active(session):
        contact = staff_repo.preferred_contact(member)
        if contact is None:
            continue
        tr = Translator.for_language(member.language)
        text = tr._(
            "⚠ Possible impersonation: a mail From {address} (staff {who}) was not authenticated by our "
            "mail server ({reason}). It was handled as an unknown sender: no staff command, reply or "
            "acknowledgement in it was carried out. Further such mails in the next hour are only "
            "recorded (audit log, action {action}).",
            address=inbound.channel_user_id,
            who=who,
            reason=reason,
            action=ACTION,
        )
        await outbox.enqueue(
            session,
            OutboundMessage(
                channel=Channel(contact[0]),
                channel_user_id=contact[1],
                text=text,
                idempotency_key=f"staff-spoof:{message_id}:{member.key}",
                extra={"subject": tr._("Possible impersonation of a staff address")},
            ),
            cause_message_id=message_id,
            kind="alert",
        )
    return True
