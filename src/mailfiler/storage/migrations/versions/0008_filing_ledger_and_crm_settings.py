"""The filing ledger (what mailfiler filed, in whichever CRM), which CRM an organisation uses,
and a signed-in user's own token for that CRM.

Every record the built-in CRM holds already is entered in the ledger, so
"already saved" answers the same after the upgrade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filing_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message_key", sa.String(length=500), nullable=False),
        sa.Column("copy", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "organisation_id", "contact_id", "kind", "message_key", "copy", name="uq_filing"
        ),
    )
    with op.batch_alter_table("filing_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_filing_ledger_message", ["organisation_id", "kind", "message_key"], unique=False
        )
        batch_op.create_index(
            "ix_filing_ledger_contact", ["organisation_id", "contact_id", "saved_at"], unique=False
        )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("crm", sa.String(length=20), server_default="builtin", nullable=False)
        )
        batch_op.add_column(sa.Column("crm_settings", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("background_secret", sa.Text(), nullable=True))
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("crm_token", sa.Text(), nullable=True))
    # What the built-in CRM holds already, entered as filed.
    for kind, table in (("interaction", "interactions"), ("activity", "activities")):
        select = (
            f"SELECT r.organisation_id, c.contact_id, '{kind}', r.message_key, r.copy, 'saved', "  # noqa: S608 - our names
            "CAST(r.id AS VARCHAR(100)), r.subject, r.saved_by, r.saved_at, r.saved_at "
            f"FROM {table} r JOIN contacts c ON c.id = r.contact_pk"
        )
        op.execute(
            "INSERT INTO filing_ledger (organisation_id, contact_id, kind, message_key, copy, "
            "state, record_id, subject, saved_by, reserved_at, saved_at) " + select
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("crm_token")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("background_secret")
        batch_op.drop_column("crm_settings")
        batch_op.drop_column("crm")
    with op.batch_alter_table("filing_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_filing_ledger_contact")
        batch_op.drop_index("ix_filing_ledger_message")
    op.drop_table("filing_ledger")
