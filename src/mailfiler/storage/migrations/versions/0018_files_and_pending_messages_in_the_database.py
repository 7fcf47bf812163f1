"""File contents and messages waiting between review and save may live in the database
(``Settings.files_in``), so that servers on several machines share nothing but it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "pending_messages",
        sa.Column(
            "organisation_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), primary_key=True),
        sa.Column("last_read", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_pending_messages_last_read", "pending_messages", ["last_read"])


def downgrade() -> None:
    op.drop_index("ix_pending_messages_last_read", table_name="pending_messages")
    op.drop_table("pending_messages")
    op.drop_table("file_contents")
