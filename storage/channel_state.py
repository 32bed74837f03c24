"""The state channel adapters keep between requests, on the database (bot.ports' state Protocols).

Adapters never import storage; the composition root builds these over its Database and
hands each adapter the one it needs. Each method is one short transaction.
"""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.repos import mailbox, messages, replays


class DbMailboxState:
    """bot.ports.MailboxState: the email poller's last UID per mailbox, and reply threads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def last_uid(self, account: str, mailbox_name: str, uidvalidity: int) -> int | None:
        name = mailbox.uid_counter_name(account, mailbox_name, uidvalidity)
        async with self.db.read() as session:
            return await mailbox.last_uid(session, name)

    async def advance_uid(self, account: str, mailbox_name: str, uidvalidity: int, uid: int) -> None:
        name = mailbox.uid_counter_name(account, mailbox_name, uidvalidity)
        async with self.db.write() as session:
            await mailbox.advance_uid(session, name, uid)

    async def last_thread(self, address: str) -> dict[str, Any] | None:
        async with self.db.read() as session:
            return await mailbox.last_thread(session, address)


class DbOutboundIds:
    """bot.ports.OutboundIds: provider ids of the messages we sent."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def is_outbound_id(self, channel: str, addresses: list[str], provider_id: str) -> bool:
        async with self.db.read() as session:
            return await messages.is_outbound_id(session, channel, addresses, provider_id)


class DbReplyRoutes:
    """bot.ports.ReplyRoutes: read from the sender's newest stored message."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def last_inbound_extra(self, channel: str, channel_user_id: str) -> dict[str, Any]:
        async with self.db.quick_read() as session:  # a send that answers no message
            return await messages.last_inbound_extra(session, channel, channel_user_id)


class DbReplayMemory:
    """bot.ports.ReplayMemory: accepted WeChat request triples, in the inbound writer's urgent lane."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def remember(
        self, timestamp: int, nonce: str, signature: str, *, forget_before: int | None
    ) -> bool:
        async with self.db.write(urgent=True) as session:
            if forget_before is not None:
                await replays.prune(session, forget_before)
            return await replays.remember(session, timestamp, nonce, signature)
