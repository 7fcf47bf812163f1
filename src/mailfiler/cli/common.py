"""What every command shares: the app, the terminal, the database it works on, and one
way mistakes become a sentence and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # loaded by the commands that need them: --help starts at once
    from rich.table import Table

    from mailfiler.service import Service

from mailfiler.errors import (
    BadRequest,
    Conflict,
    InvalidMessage,
    MailfilerError,
    NotFound,
    Refused,
    SystemFault,
    UnknownOrganisation,
)

app = typer.Typer(
    help="File email into a CRM: one Interaction or Activity per contact on From, To and Cc.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="The users of an organisation.", no_args_is_help=True)
contacts_app = typer.Typer(help="The contacts of the built-in CRM.", no_args_is_help=True)
options_app = typer.Typer(help="An organisation's options.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(contacts_app, name="contacts")
app.add_typer(options_app, name="options")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # a path is never cut in two

CloudId = Annotated[str, typer.Option("--cloud-id", help="The organisation's Cloud ID.")]
PortOption = typer.Option(
    "--port", envvar=["MAILFILER_PORT", "PORT"], help="The port (or MAILFILER_PORT, or PORT)."
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@dataclass
class Globals:
    database: str | None = None
    blobs: str | None = None
    service: Service | None = None


settings_given = Globals()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="MAILFILER_DB",
            help="Database URL (sqlite:///file.db or postgresql+psycopg://…) or a SQLite file. "
            "Default: ./mailfiler.db",
        ),
    ] = None,
    blobs: Annotated[
        str | None,
        typer.Option(
            "--blobs",
            envvar="MAILFILER_BLOBS",
            help="Folder for attachment contents. Default: beside the SQLite file.",
        ),
    ] = None,
) -> None:
    close_service()
    settings_given.database = db
    settings_given.blobs = blobs
    ctx.call_on_close(close_service)


def open_service(creating: bool = False) -> Service:
    """The command's service, opened (and the schema brought up to date) on first use.

    Only ``init`` (and ``demo``) make a database: any other command run where
    there is none says which database it looked for, instead of making an
    empty one.
    """
    from mailfiler.config import get_settings
    from mailfiler.service import Service

    if settings_given.service is None:
        try:
            settings = get_settings(settings_given.database, settings_given.blobs)
        except BadRequest as error:  # a setting of the environment that is not one
            fail(str(error), 2)
        service = Service(settings)
        if not creating and service.database.is_empty():
            service.close()
            fail(
                f"there is no mailfiler database at {service.database.where()}: "
                "`mailfiler init` makes one (or give --db, or set MAILFILER_DB)",
                2,
            )
        service.migrate()
        settings_given.service = service
    return settings_given.service


def close_service() -> None:
    if settings_given.service is not None:
        settings_given.service.close()
        settings_given.service = None


def new_table(*headers: str, title: str | None = None) -> Table:
    """A table that folds long values instead of cutting them: every reason is read whole."""
    from rich.table import Table

    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def password_from_stdin(asked: bool) -> str | None:
    """The first line of standard input, when the command was asked to read a password there
    (so it never appears in the shell's history or the process list)."""
    return sys.stdin.readline().rstrip("\r\n") if asked else None


def check_port(host: str, port: int) -> None:
    """Stop, saying what to do, when the port is taken: before anything says it is served."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            fail(
                f"Port {port} on {host} is in use (another mailfiler, or another program). "
                f"Stop it, or choose another port: PORT={port + 1} make run, or "
                f"mailfiler serve --port {port + 1}",
                2,
            )


def fail(message: str, code: int) -> NoReturn:
    from mailfiler.core.words import sentence

    err.print(f"[red]error:[/red] {escape(sentence(message))}", markup=True, highlight=False)
    raise typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """One place where mailfiler's errors become a sentence and an exit code."""
    try:
        yield
    except UnknownOrganisation as error:
        where = f" in {settings_given.service.database.where()}" if settings_given.service else ""
        fail(f"{error}{where}", 2)
    except (NotFound, BadRequest, Conflict, Refused) as error:
        fail(str(error), 2)
    except InvalidMessage as error:
        fail(str(error), 1)
    except SystemFault as error:
        fail(str(error), 3)
    except MailfilerError as error:
        fail(str(error), 3)


def name_value_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or ():
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            fail(f"{option} takes NAME=VALUE, not {value!r}", 2)
        pairs[name.strip()] = rest
    return pairs


def say_pause(seconds: float, why: str) -> None:
    """A pause, on its own line (no progress bar to show it on)."""
    if seconds:
        err.print(escape(pause_words(seconds, why)))


def pause_words(seconds: float, why: str) -> str:
    return f"waiting {seconds:.1f} s: {why}" if seconds < 10 else f"waiting {seconds:.0f} s: {why}"
