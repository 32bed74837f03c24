"""closure notices: one per conversation and factory closure

Revision ID: 0016_calendar
Revises: 0008_escalation
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_calendar"
down_revision = "0014_staff_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closure_notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("closure", sa.String(length=160), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "closure", name="uq_closure_notice_once"),
    )


def downgrade() -> None:
    op.drop_table("closure_notices")
