"""Alembic runs this to migrate; mailfiler hands it an open connection (see database.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from mailfiler.storage.tables import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` run by hand: the URL comes from -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///mailfiler.db")
    with create_engine(url).connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several servers may start at once: one migrates, the others wait.
            connection.execute(text("SELECT pg_advisory_xact_lock(7243981)"))
        context.run_migrations()
