"""The address lookup index holds the contact too (PostgreSQL: an index-only lookup).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no INCLUDE: its index stays as it was
    op.drop_index("ix_contact_emails_lookup", table_name="contact_emails")
    op.create_index(
        "ix_contact_emails_lookup",
        "contact_emails",
        ["organisation_id", "address_key"],
        postgresql_include=["contact_pk"],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_contact_emails_lookup", table_name="contact_emails")
    op.create_index(
        "ix_contact_emails_lookup", "contact_emails", ["organisation_id", "address_key"]
    )
