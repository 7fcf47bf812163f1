"""The schema is made by the migrations, and it is the schema the code describes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

import mailfiler.storage.database as database
from mailfiler.config import Settings
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.service import Service
from mailfiler.storage.tables import Base
from tests.conftest import new_postgresql_database


def test_migrations_build_exactly_the_tables_the_code_uses(service: Service) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    with service.database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
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
            config = Config()
            config.set_main_option(
                "script_location", str(Path(database.__file__).parent / "migrations")
            )
            config.attributes["connection"] = connection
            command.upgrade(config, "0006")  # before contacts were counted
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
