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
