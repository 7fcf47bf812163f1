"""The schema is made by the migrations, and it is the schema the code describes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

import mailfiler.storage.database as database
from mailfiler import accounts
from mailfiler.config import Settings
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.core.plan import Choices
from mailfiler.service import Service
from mailfiler.storage.tables import Base
from tests.conftest import new_postgresql_database


def test_migrations_build_exactly_the_tables_the_code_uses(service: Service) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    with service.database.engine.connect() as connection:
        dialect = connection.dialect.name

        def on_this_database(item: Any, name: Any, kind: str, reflected: bool, _: Any) -> bool:
            # An index made for one database only (ddl_if) is not expected on another;
            # SQLite's full-text search tables (migration 0011) are not the code's tables.
            if kind == "table" and str(name).startswith("contacts_search"):
                return False
            made_if = getattr(item, "_ddl_if", None)
            return made_if is None or made_if.dialect in (None, dialect)

        context = MigrationContext.configure(connection, opts={"include_object": on_this_database})
        assert context.get_current_revision() == head
        assert compare_metadata(context, Base.metadata) == []
    service.migrate()  # a second run changes nothing


def test_on_postgresql_the_address_lookup_index_holds_the_contact(service: Service) -> None:
    if service.database.dialect != "postgresql":
        return  # SQLite has no INCLUDE; its lookup index is the plain one
    with service.database.engine.connect() as connection:
        definition = connection.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_contact_emails_lookup'"
        ).scalar_one()
    assert definition.endswith("(organisation_id, address_key) INCLUDE (contact_pk)")


def upgrade(connection: Connection, revision: str) -> None:
    """Migrate an empty database up to ``revision`` only (an older mailfiler's schema)."""
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, with nothing in it, for a test that migrates step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with new_postgresql_database("mailfiler_migrate") as url:
        yield url


def test_contacts_of_an_older_database_are_numbered_on_after_its_highest(
    empty_database: str, tmp_path: Path
) -> None:
    service = Service(Settings(database_url=empty_database, blobs_dir=tmp_path / "blobs"))
    try:
        with service.database.engine.begin() as connection:
            upgrade(connection, "0006")  # before contacts were counted
            for pk, cloud_id in ((1, "OLD"), (2, "EMPTY")):
                connection.execute(
                    text(
                        "INSERT INTO organisations (id, cloud_id, cloud_id_key, name, "
                        "background_account, edition, options, options_version, created_at) "
                        "VALUES (:pk, :c, :c, :c, 'MANAGER', 'enterprise', '{}', 0, :now)"
                    ),
                    {"pk": pk, "c": cloud_id, "now": datetime.now(UTC)},
                )
            for contact_id in ("101", "117", "99", "X-500", "²", "9" * 19):
                connection.execute(
                    text(
                        "INSERT INTO contacts (organisation_id, contact_id, full_name, "
                        "full_name_key, organization, created_at, updated_at) "
                        "VALUES (1, :id, 'Old', 'old', '', :now, :now)"
                    ),
                    {"id": contact_id, "now": datetime.now(UTC)},
                )
        service.migrate()
        with service.unit() as session:
            old = BuiltinCRM(session, 1, service.blobs)
            empty = BuiltinCRM(session, 2, service.blobs)
            assert old.create_contact("New", ["new@x.example"]).id == "118"
            assert empty.create_contact("First", ["first@x.example"]).id == "1001"
    finally:
        service.close()


def test_what_an_older_database_filed_is_in_the_ledger_after_the_upgrade(
    empty_database: str, tmp_path: Path
) -> None:
    service = Service(Settings(database_url=empty_database, blobs_dir=tmp_path / "blobs"))
    message_key = "mid:renewal-1@members.example"
    try:
        with service.database.engine.begin() as connection:
            upgrade(connection, "0007")  # before the ledger
            moment = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
            connection.execute(
                text(
                    "INSERT INTO organisations (id, cloud_id, cloud_id_key, name, "
                    "background_account, edition, options, options_version, created_at, "
                    "last_contact_number) VALUES (1, 'OLD', 'old', 'Old', 'MANAGER', "
                    "'enterprise', '{}', 0, :now, 0)"
                ),
                {"now": moment},
            )
            connection.execute(
                text(
                    "INSERT INTO contacts (id, organisation_id, contact_id, full_name, "
                    "full_name_key, organization, created_at, updated_at) "
                    "VALUES (1, 1, '101', 'Ann Archer', 'ann archer', '', :now, :now)"
                ),
                {"now": moment},
            )
            connection.execute(
                text(
                    "INSERT INTO contact_emails (contact_pk, organisation_id, address, "
                    "address_key, position) VALUES (1, 1, 'ann@members.example', "
                    "'ann@members.example', 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO interactions (id, organisation_id, contact_pk, subject, body, "
                    "message_key, message_id, copy, created_by, saved_by, saved_at, to_line) "
                    "VALUES (77, 1, 1, 'Renewal', '', :key, '<renewal-1@members.example>', 0, "
                    "'MANAGER', 'jdoe', :now, '')"
                ),
                {"key": message_key, "now": moment},
            )
        service.migrate()
        with service.unit() as session:
            tenant = accounts.tenant(session, "OLD")
            accounts.add_user(session, tenant, "jdoe", "jdoe@old.example", ["Staff"], "a-password")
        message = service.read(
            b"From: Ann <ann@members.example>\r\nSubject: Renewal\r\n"
            b"Message-ID: <renewal-1@members.example>\r\n\r\nPlease renew.\r\n"
        )
        outcome = service.file("OLD", "jdoe", message, Choices())
        [ann] = outcome.participants
        assert (ann.status, ann.record_id) == ("duplicate", "77")
        assert service.run("OLD", None, lambda c: c.records.count_records("101")) == 1
        [record] = service.run("OLD", None, lambda c: c.records.records("101"))
        assert (record.id, record.subject, record.message_id) == (
            "77",
            "Renewal",
            "<renewal-1@members.example>",
        )
        with service.unit() as session:  # written under the key of the entry that names it
            entry = session.scalar(text("SELECT id FROM filing_ledger WHERE record_id = '77'"))
            key = session.scalar(text("SELECT filing_key FROM interactions WHERE id = 77"))
        assert key == str(entry)
    finally:
        service.close()
