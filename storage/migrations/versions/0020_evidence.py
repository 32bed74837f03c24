"""claim evidence quality and shots: each photo's check, its shot, the claim's missing shots

Revision ID: 0020_evidence
Revises: 0021_ocr (re-chained after the rebase on one-house)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_evidence"
down_revision = "0021_ocr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim_evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quality", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("shot", sa.String(length=40), nullable=True))
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missing_shots", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("no_more_photos_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("no_more_photos_at")
        batch_op.drop_column("missing_shots")
    with op.batch_alter_table("claim_evidence", schema=None) as batch_op:
        batch_op.drop_column("shot")
        batch_op.drop_column("quality")
