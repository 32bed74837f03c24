"""rota overrides made from staff phones

Revision ID: 0008_escalation
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_escalation"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rota_overrides",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rotation", sa.String(length=64), nullable=False),
        sa.Column("staff_key", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rota_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rota_overrides_end"), ["end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rota_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rota_overrides_end"))
    op.drop_table("rota_overrides")
