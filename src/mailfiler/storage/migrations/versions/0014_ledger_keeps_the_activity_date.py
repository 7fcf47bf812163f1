"""The filing ledger keeps an Activity's date (its TRANSACTION_DATE as sent): a write never
answered is looked for by its type, description and date, so an older activity of another
message with the same description is never taken for it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("filing_ledger") as table:
        table.add_column(sa.Column("activity_date", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("filing_ledger") as table:
        table.drop_column("activity_date")
