"""The filing ledger keeps why a record failed, is unsure or lacks files, which process is
writing a pending one and whether it began sending it (so a rerun knows at once when it
died, and whether the CRM may hold it), and the record's files.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("filing_ledger") as table:
        table.add_column(sa.Column("reason", sa.Text(), nullable=True))
        table.add_column(sa.Column("writer", sa.String(300), nullable=True))
        table.add_column(sa.Column("alive_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("files", sa.JSON(), nullable=True))
        table.add_column(sa.Column("missing_files", sa.JSON(), nullable=True))
    # Records that need someone (failed, unsure, partial) are listed per organisation.
    op.create_index("ix_filing_ledger_state", "filing_ledger", ["organisation_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_filing_ledger_state", "filing_ledger")
    with op.batch_alter_table("filing_ledger") as table:
        for column in ("missing_files", "files", "sending_at", "alive_at", "writer", "reason"):
            table.drop_column(column)
