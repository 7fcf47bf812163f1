"""The schema is made by the migrations, and it is the schema the code describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import mailfiler.connectors.builtin.database as database
from mailfiler.connectors.builtin.tables import Base
from mailfiler.service import Service


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
