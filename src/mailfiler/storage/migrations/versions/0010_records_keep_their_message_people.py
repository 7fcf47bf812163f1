"""The built-in CRM's records keep who sent the message, to whom, and when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("interactions", "activities"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sender", sa.Text(), server_default="", nullable=False))
            batch_op.add_column(
                sa.Column("recipients", sa.Text(), server_default="", nullable=False)
            )
            batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ("interactions", "activities"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("sent_at")
            batch_op.drop_column("recipients")
            batch_op.drop_column("sender")
