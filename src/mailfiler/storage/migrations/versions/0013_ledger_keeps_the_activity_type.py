"""The filing ledger keeps an Activity's type: the staff site names a record filed in another
CRM by it, and a write never answered is looked for by it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("filing_ledger") as table:
        table.add_column(sa.Column("activity_type", sa.String(50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("filing_ledger") as table:
        table.drop_column("activity_type")
