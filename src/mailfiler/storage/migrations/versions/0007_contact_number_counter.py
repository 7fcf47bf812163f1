"""Each organisation counts its contact numbers (a new contact no longer reads every ID).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The longest contact ID counted as a number (a BIGINT holds 18 digits whatever they are).
LONGEST_NUMBER = 18


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_contact_number", sa.BigInteger(), server_default="0", nullable=False)
        )
    # Start each counter at the highest numbered contact the organisation has.
    # Read in Python, once: "is it a number" reads differently in each database.
    connection = op.get_bind()
    highest: dict[int, int] = {}
    for organisation_id, contact_id in connection.execute(
        sa.text("SELECT organisation_id, contact_id FROM contacts")
    ):
        if contact_id.isascii() and contact_id.isdigit() and len(contact_id) <= LONGEST_NUMBER:
            highest[organisation_id] = max(highest.get(organisation_id, 0), int(contact_id))
    for organisation_id, number in highest.items():
        connection.execute(
            sa.text(
                "UPDATE organisations SET last_contact_number = :number "
                "WHERE id = :id AND last_contact_number < :number"
            ),
            {"number": number, "id": organisation_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("last_contact_number")
