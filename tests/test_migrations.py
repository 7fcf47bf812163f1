"""The schema is made by the migrations, and it is the schema the code describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailfiler.connectors.builtin.tables import Base
from mailfiler.service import Service


def test_migrations_build_exactly_the_tables_the_code_uses(service: Service) -> None:
    with service.database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == "0002"
        assert compare_metadata(context, Base.metadata) == []
    service.migrate()  # a second run changes nothing
