"""orders: one index on (client_id, number_key), the lookup a client's order question makes

Without table statistics SQLite chose ix_orders_client_id for `number_key = ? AND client_id = ?`
and walked every order of the client: 0.3 ms at 10 k orders, 6 ms at 1 M (bench/datascale.py).
The composite index answers it in one probe whatever the planner knows.

Revision ID: 0023_perf_order_lookup
Revises: 0022_cluster_leases
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0023_perf_order_lookup"
down_revision = "0022_cluster_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_client_number_key", "orders", ["client_id", "number_key"])


def downgrade() -> None:
    op.drop_index("ix_orders_client_number_key", table_name="orders")
