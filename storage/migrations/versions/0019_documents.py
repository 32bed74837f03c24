"""customs documents: the buyer's address and consignee, the order's ports and payment terms

Revision ID: 0019_documents
Revises: 0016_calendar
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_documents"
down_revision = "0016_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("address", sa.Text(), nullable=True))
        batch.add_column(sa.Column("consignee", sa.Text(), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("port_of_loading", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("port_of_discharge", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("payment_terms", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_terms")
        batch.drop_column("port_of_discharge")
        batch.drop_column("port_of_loading")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("consignee")
        batch.drop_column("address")
