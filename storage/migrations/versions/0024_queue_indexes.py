"""messages and outbox: partial indexes of what waits, so a backlog does not slow each look-up

- messages: ix_messages_unhandled becomes partial (id) WHERE direction = 'in' AND handled_at IS
  NULL. Without table statistics SQLite answered a contact's "oldest unhandled message" from the
  old (direction, handled_at) index, which holds every unhandled message of every contact: under
  a backlog of n messages each look-up walked n rows. The partial index keeps the sweep's
  "every unhandled message, oldest first"; the per-contact look-ups now use
  ix_messages_unhandled_contact.
- outbox: ix_outbox_in_flight (channel, channel_user_id) WHERE state = 'sending', so the claim's
  "this recipient has a send in flight" is one probe instead of a walk of every row being sent.

Revision ID: 0024_queue_indexes
Revises: 0023_perf_order_lookup
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_queue_indexes"
down_revision = "0023_perf_order_lookup"
branch_labels = None
depends_on = None

WAITING = "direction = 'in' AND handled_at IS NULL"
SENDING = "state = 'sending'"


def upgrade() -> None:
    op.drop_index("ix_messages_unhandled", table_name="messages")
    op.create_index(
        "ix_messages_unhandled",
        "messages",
        ["id"],
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )
    op.create_index(
        "ix_outbox_in_flight",
        "outbox",
        ["channel", "channel_user_id"],
        sqlite_where=sa.text(SENDING),
        postgresql_where=sa.text(SENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_in_flight", table_name="outbox")
    op.drop_index("ix_messages_unhandled", table_name="messages")
    op.create_index("ix_messages_unhandled", "messages", ["direction", "handled_at"])
