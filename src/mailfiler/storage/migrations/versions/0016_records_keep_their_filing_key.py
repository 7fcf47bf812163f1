"""The built-in CRM keeps with each record the filing ledger's key it was written under: a
second write of the same key answers with the record written first (the write is idempotent
by the protocol's key, not by a look-up of the message and contact of its own).

Records written before are given the key of the ledger entry that names them. The
"was this message filed before?" indexes go: the ledger answers that.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = {"interactions": "interaction", "activities": "activity"}


def upgrade() -> None:
    for table, kind in TABLES.items():
        # A plain ADD COLUMN on both databases (a batch would copy the table on SQLite).
        op.add_column(table, sa.Column("filing_key", sa.String(40), nullable=True))
        update = (
            f"UPDATE {table} SET filing_key = CAST(f.id AS VARCHAR(40)) FROM filing_ledger f "  # noqa: S608 - our names
            f"WHERE f.organisation_id = {table}.organisation_id AND f.kind = '{kind}' "
            f"AND f.record_id = CAST({table}.id AS VARCHAR(40))"
        )
        op.execute(update)
        op.create_index(
            f"uq_{table}_filing_key", table, ["organisation_id", "filing_key"], unique=True
        )
        op.drop_index(f"ix_{table}_message", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_message", table, ["organisation_id", "message_key"])
        op.drop_index(f"uq_{table}_filing_key", table_name=table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN filing_key")
