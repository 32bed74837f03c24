"""accepted WeChat (timestamp, nonce, signature) triples: a replay conflicts on the key

Revision ID: 0009_wechat_replay
Revises: 0008_escalation
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_wechat_replay"
down_revision = "0008_escalation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_replays",
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("timestamp", "nonce", "signature"),
    )


def downgrade() -> None:
    op.drop_table("wechat_replays")
