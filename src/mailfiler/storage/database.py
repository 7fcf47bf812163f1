"""The database: an engine, its migrations, and units of work.

A unit of work is one transaction. Code below the service layer never
commits; ``Database.unit_of_work`` commits when the block ends and rolls back
when it raises, so a save lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailfiler.config import normalise_url
from mailfiler.errors import SystemFault

_MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = _engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Work that only reads (or whose writes each stand alone) runs without
        # BEGIN and COMMIT: two round trips fewer for every message read.
        self._reading = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op when it is there already)."""
        try:
            with self.engine.begin() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
                if current == self._head():
                    return
                config = Config()
                config.set_main_option("script_location", str(_MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as error:
            raise SystemFault(
                f"the database cannot be reached or migrated: {error.orig}"
            ) from error

    def is_empty(self) -> bool:
        """Whether there is no mailfiler database here yet (a SQLite file is not made)."""
        if self.url.startswith("sqlite:///") and self.url != "sqlite:///:memory:":
            path = Path(self.url.removeprefix("sqlite:///"))
            if not path.exists() or path.stat().st_size == 0:
                return True
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision() is None
        except OperationalError as error:
            raise SystemFault(
                f"the database at {self.where()} cannot be reached: {error.orig}"
            ) from error

    def where(self) -> str:
        """The database, for a sentence: a SQLite file's full path, or the URL without its
        password."""
        if self.url.startswith("sqlite:///"):
            return str(Path(self.url.removeprefix("sqlite:///")).resolve())
        return self.engine.url.render_as_string(hide_password=True)

    def _head(self) -> str | None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    @contextmanager
    def unit_of_work(self, reading: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``reading``: no transaction; each statement stands alone (for work that
        writes nothing, or only single statements that need no partner).
        """
        session = self._reading() if reading else self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def insert_into(session: Session, table: Any) -> Any:
    """An INSERT in the session's own SQL dialect, so it can say ``on_conflict_do_nothing``
    or ``on_conflict_do_update`` (PostgreSQL and SQLite spell both alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


AnySelect = Select[*tuple[Any, ...]]

# PostgreSQL's SQL text of each statement passed to ``rows``, compiled once.
_COMPILED: dict[AnySelect, str] = {}


def rows(session: Session, statement: AnySelect, parameters: dict[str, Any]) -> Sequence[Any]:
    """The rows of a statement built once, read by attribute or unpacked.

    For the statements every message read runs. On PostgreSQL the text is
    compiled once and sent straight through psycopg on the session's own
    connection: SQLAlchemy's execution path (an execution context, result
    processing) costs more than these statements do (bench/read_steps.py).
    Values come back as psycopg gives them: no SQLAlchemy type processing
    (a moment is a ``datetime`` with its zone, JSON is parsed).
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(statement, parameters).all()
    sql = _COMPILED.get(statement)
    if sql is None:
        sql = _COMPILED[statement] = str(statement.compile(dialect=connection.dialect))
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    try:
        with driver.cursor(row_factory=namedtuple_row) as cursor:
            return cursor.execute(sql, parameters).fetchall()
    except psycopg.Error as error:  # what SQLAlchemy's errors become in Service.unit
        raise SystemFault(f"the database failed: {type(error).__name__}") from error


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # psycopg prepares a statement on the server once a connection has run it
    # five times, so the queries every message read runs are planned once
    # (bench/api.py: the contact lookup, the duplicate check and the sign-in
    # check each answer faster prepared, at 1 000 and at 1 000 000 contacts).
    return create_engine(url, pool_recycle=1800, pool_size=20, max_overflow=20)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # SQLite leaves foreign keys off unless asked; WAL lets readers and one writer overlap.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
