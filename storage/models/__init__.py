"""Tables. Later features add theirs by new Alembic migrations, never by editing old ones.

One module per feature; every name is re-exported here, so `from storage.models import X` and
`Base.metadata` (which Alembic reads) see all the tables.
"""

from __future__ import annotations

from storage.models.base import Base, BigId, UTCDateTime, utcnow
from storage.models.claims import Claim, ClaimEvent, ClaimEvidence, Counter
from storage.models.cluster import JobRun
from storage.models.conversations import (
    AttachmentRow,
    AuditLog,
    Client,
    Contact,
    Conversation,
    Message,
    OutboxRow,
)
from storage.models.orders import Feedback, Order, OrderEvent, OrderLine, SkuNote
from storage.models.staff import Alert, Escalation, RotaOverride, Staff
from storage.models.trust import ClosureNotice, ConsoleSession, ContactFlood, LoginThrottle, WeChatReplay

__all__ = [
    "Alert",
    "AttachmentRow",
    "AuditLog",
    "Base",
    "BigId",
    "Claim",
    "ClaimEvent",
    "ClaimEvidence",
    "Client",
    "ClosureNotice",
    "ConsoleSession",
    "Contact",
    "ContactFlood",
    "Conversation",
    "Counter",
    "Escalation",
    "Feedback",
    "JobRun",
    "LoginThrottle",
    "Message",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OutboxRow",
    "RotaOverride",
    "SkuNote",
    "Staff",
    "UTCDateTime",
    "WeChatReplay",
    "utcnow",
]
