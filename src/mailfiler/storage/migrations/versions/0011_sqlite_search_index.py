"""On SQLite, the contacts' search text gets a trigram full-text index (FTS5), kept in step
with the contacts by triggers: what PostgreSQL's trigram index (0009) is there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_STATEMENTS = (
    "CREATE VIRTUAL TABLE contacts_search USING fts5("
    "search_text, content='contacts', content_rowid='id', tokenize='trigram')",
    "INSERT INTO contacts_search(contacts_search) VALUES ('rebuild')",
    "CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN "
    "INSERT INTO contacts_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN "
    "INSERT INTO contacts_search(contacts_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_text ON contacts BEGIN "
    "INSERT INTO contacts_search(contacts_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO contacts_search(rowid, search_text) VALUES (new.id, new.search_text); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS contacts_search_{trigger}")
    op.execute("DROP TABLE IF EXISTS contacts_search")
