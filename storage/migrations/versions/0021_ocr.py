"""carton labels: what OCR read on a photo, kept with the attachment and the claim's evidence

Revision ID: 0021_ocr
Revises: 0019_documents
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_ocr"
down_revision = "0019_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocr", sa.JSON(), nullable=True))
    with op.batch_alter_table("claim_evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocr_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ocr", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_evidence", schema=None) as batch_op:
        batch_op.drop_column("ocr")
        batch_op.drop_column("ocr_text")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("ocr")
