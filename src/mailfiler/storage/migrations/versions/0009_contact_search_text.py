"""Contacts carry their searchable text (name, organisation, addresses in every spelling,
folded), indexed for substring search: a trigram index on PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from mailfiler.core.search import searchable

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    connection = op.get_bind()
    emails: dict[int, list[str]] = defaultdict(list)
    for pk, address in connection.execute(
        sa.text("SELECT contact_pk, address FROM contact_emails ORDER BY contact_pk, position")
    ):
        emails[pk].append(address)
    rows = connection.execute(sa.text("SELECT id, full_name, organization FROM contacts")).all()
    for start in range(0, len(rows), BATCH):
        connection.execute(
            sa.text("UPDATE contacts SET search_text = :text WHERE id = :id"),
            [
                {"id": pk, "text": searchable(name, organization or "", emails[pk])}
                for pk, name, organization in rows[start : start + BATCH]
            ],
        )
    if connection.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)"
        )
    op.create_index(
        "ix_contacts_name_order", "contacts", ["organisation_id", "full_name_key", "contact_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_name_order", table_name="contacts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("search_text")
