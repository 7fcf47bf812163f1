"""The counter of new contact IDs is the built-in CRM's own table (``contact_numbers``), not
a column of every organisation: an organisation filing into iMIS has none.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_numbers",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organisation_id"),
    )
    op.execute(
        "INSERT INTO contact_numbers (organisation_id, last_number) "
        "SELECT id, last_contact_number FROM organisations WHERE last_contact_number > 0"
    )
    # Not a batch (SQLite would copy organisations, which other tables' keys point at):
    # both databases drop a plain column in place (SQLite since 3.35).
    op.execute("ALTER TABLE organisations DROP COLUMN last_contact_number")


def downgrade() -> None:
    with op.batch_alter_table("organisations") as table:
        table.add_column(
            sa.Column("last_contact_number", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute(
        "UPDATE organisations SET last_contact_number = (SELECT last_number FROM "
        "contact_numbers WHERE contact_numbers.organisation_id = organisations.id) "
        "WHERE id IN (SELECT organisation_id FROM contact_numbers)"
    )
    op.drop_table("contact_numbers")
