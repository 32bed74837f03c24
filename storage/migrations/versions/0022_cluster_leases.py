"""several processes on one database: outbox lease owners, the unhandled-per-contact index, job runs

Revision ID: 0022_cluster_leases
Revises: 0020_evidence
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_cluster_leases"
down_revision = "0020_evidence"
branch_labels = None
depends_on = None

UNHANDLED = "direction = 'in' AND handled_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_by", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_messages_unhandled_contact",
        "messages",
        ["channel", "channel_user_id", "id"],
        sqlite_where=sa.text(UNHANDLED),
        postgresql_where=sa.text(UNHANDLED),
    )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("occurrence", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", "occurrence"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_index("ix_messages_unhandled_contact", table_name="messages")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("locked_by")
