"""The mailfiler command line.

Exit codes: 0 every message was read (unmatched contacts are a result, not a
failure); 1 at least one message or input row could not be read (the others
were still done); 2 a usage error (bad option, unknown organisation or user);
3 the system failed (database unreachable): nothing was half-written; 4 the CRM could
not be reached for some messages, or did not take some records, after waiting out
throttling and dropped connections (the others were filed; filing the same messages
again files only those; 4 wins over 1).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # loaded by the commands that need them: --help starts at once
    from rich.table import Table

    from mailfiler.core.options import Options
    from mailfiler.core.people import Line
    from mailfiler.core.plan import Choices, SavePlan
    from mailfiler.core.rules import Kind
    from mailfiler.service import Service, SetUpCheck
    from mailfiler.service.sources import Source

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


_globals = Globals()


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
    _close()
    _globals.database = db
    _globals.blobs = blobs
    ctx.call_on_close(_close)


def _service(creating: bool = False) -> Service:
    """The command's service, opened (and the schema brought up to date) on first use.

    Only ``init`` (and ``demo``) make a database: any other command run where
    there is none says which database it looked for, instead of making an
    empty one.
    """
    from mailfiler.config import get_settings
    from mailfiler.service import Service

    if _globals.service is None:
        try:
            settings = get_settings(_globals.database, _globals.blobs)
        except BadRequest as error:  # a setting of the environment that is not one
            _fail(str(error), 2)
        service = Service(settings)
        if not creating and service.database.is_empty():
            service.close()
            _fail(
                f"there is no mailfiler database at {service.database.where()}: "
                "`mailfiler init` makes one (or give --db, or set MAILFILER_DB)",
                2,
            )
        service.migrate()
        _globals.service = service
    return _globals.service


def _close() -> None:
    if _globals.service is not None:
        _globals.service.close()
        _globals.service = None


def _table(*headers: str, title: str | None = None) -> Table:
    """A table that folds long values instead of cutting them: every reason is read whole."""
    from rich.table import Table

    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _password_from_stdin(asked: bool) -> str | None:
    """The first line of standard input, when the command was asked to read a password there
    (so it never appears in the shell's history or the process list)."""
    return sys.stdin.readline().rstrip("\r\n") if asked else None


def _check_port(host: str, port: int) -> None:
    """Stop, saying what to do, when the port is taken: before anything says it is served."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            _fail(
                f"Port {port} on {host} is in use (another mailfiler, or another program). "
                f"Stop it, or choose another port: PORT={port + 1} make run, or "
                f"mailfiler serve --port {port + 1}",
                2,
            )


def _fail(message: str, code: int) -> NoReturn:
    from mailfiler.core.words import sentence

    err.print(f"[red]error:[/red] {escape(sentence(message))}", markup=True, highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """One place where mailfiler's errors become a sentence and an exit code."""
    try:
        yield
    except UnknownOrganisation as error:
        where = f" in {_globals.service.database.where()}" if _globals.service else ""
        _fail(f"{error}{where}", 2)
    except (NotFound, BadRequest, Conflict, Refused) as error:
        _fail(str(error), 2)
    except InvalidMessage as error:
        _fail(str(error), 1)
    except SystemFault as error:
        _fail(str(error), 3)
    except MailfilerError as error:
        _fail(str(error), 3)


# -- organisations and users --------------------------------------------------------------


@app.command()
def init(
    cloud_id: CloudId,
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    background_account: Annotated[
        str, typer.Option(help="The account every record is written as (typically MANAGER).")
    ] = "MANAGER",
    edition: Annotated[str, typer.Option(help="enterprise or professional.")] = "enterprise",
    crm: Annotated[str, typer.Option(help="builtin (mailfiler's own CRM) or imis.")] = "builtin",
    imis_url: Annotated[
        str | None, typer.Option(help="With --crm imis: the site, e.g. https://acme.imiscloud.com")
    ] = None,
    background_password_stdin: Annotated[
        bool,
        typer.Option(
            "--background-password-stdin",
            help="With --crm imis: read the background account's password from standard input "
            "(stored encrypted with MAILFILER_SECRET_KEY).",
        ),
    ] = False,
) -> None:
    """Create an organisation (and the database, on first use)."""
    password = _password_from_stdin(background_password_stdin)
    with _errors():
        service = _service(creating=True)
        tenant = service.create_organisation(
            cloud_id, name, background_account, edition, crm=crm, url=imis_url,
            background_password=password,
        )  # fmt: skip
        where = service.settings.database_url
        kind = service.crm_kind(tenant)
        url = tenant.crm_settings.get("url")
        into = f", filing into {kind.label} at {url}" if kind.remote else ""
        out.print(f"Created organisation {tenant.cloud_id} ({tenant.name}) in {where}{into}")
        if kind.remote:
            _check_the_change(service, tenant.cloud_id)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The user name they sign in with.")],
    cloud_id: CloudId,
    email: Annotated[str, typer.Option(help="Their own address (marks them on To/Cc).")] = "",
    roles: Annotated[str, typer.Option(help="Comma-separated roles, e.g. Staff,SysAdmin.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read their password from standard input.")
    ] = False,
) -> None:
    """Add a user to an organisation (one whose users sign in to iMIS adds them in iMIS)."""
    password = _password_from_stdin(password_stdin)
    with _errors():
        service = _service()
        organisation, user = service.run(
            cloud_id,
            None,
            lambda c: (
                c.tenant.cloud_id,
                service.add_user(c, username, email, roles.split(","), password),
            ),
        )
    roles_text = ", ".join(user.roles) or "none"
    out.print(f"Added user {user.username} to {organisation} with roles {roles_text}")


@users_app.command("list")
def users_list(cloud_id: CloudId, as_json: JsonFlag = False) -> None:
    """List an organisation's users."""
    with _errors():
        service = _service()
        rows = service.run(cloud_id, None, service.users)
    listed: list[dict[str, Any]] = [
        {"username": u.username, "email": u.email, "roles": list(u.roles), "disabled": u.disabled}
        for u in rows
    ]
    if as_json:
        out.print_json(data=listed)
        return
    table = _table("user", "email", "roles", "disabled")
    for u in listed:
        table.add_row(
            u["username"], u["email"], ", ".join(u["roles"]), "yes" if u["disabled"] else ""
        )
    out.print(table)


# -- contacts -----------------------------------------------------------------------------------


@contacts_app.command("import")
def contacts_import(
    csv_file: Annotated[
        Path, typer.Argument(help="CSV with columns id,full_name,emails,organization.")
    ],
    cloud_id: CloudId,
) -> None:
    """Add or update contacts from a CSV file (emails separated by ';'). All rows or none."""
    from mailfiler.service.contacts_csv import read_contacts

    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"{csv_file} cannot be read: {error}", 1)
    rows, problems = read_contacts(text)
    if problems:
        for problem in problems:
            err.print(f"[red]error:[/red] {problem}", markup=True)
        _fail(f"nothing was imported: {len(problems)} row(s) need fixing", 1)
    with _errors():
        service = _service()
        try:
            added, updated = service.import_contacts(cloud_id, rows)
        except BadRequest as error:
            _fail(f"nothing was imported: {error}", 1)
    out.print(f"Imported {len(rows)} contact(s) into {cloud_id}: {added} added, {updated} updated")


@contacts_app.command("search")
def contacts_search(
    query: Annotated[str, typer.Argument(help="A name, an address or a contact ID.")],
    cloud_id: CloudId,
    as_json: JsonFlag = False,
) -> None:
    """Find contacts by name, address or ID."""
    with _errors():
        service = _service()
        found = service.run(cloud_id, None, lambda c: service.search_contacts(c, query, 50))
    listed: list[dict[str, Any]] = [
        {
            "id": c.id,
            "full_name": c.full_name,
            "organization": c.organization,
            "emails": list(c.emails),
        }
        for c in found
    ]
    if as_json:
        out.print(json.dumps(listed, ensure_ascii=False), markup=False, highlight=False)
        return
    table = _table("id", "name", "organisation", "emails")
    for c in listed:
        table.add_row(c["id"], c["full_name"], c["organization"], "; ".join(c["emails"]))
    out.print(table)


# -- filing ---------------------------------------------------------------------------------------

KindOption = Annotated[str, typer.Option("--as", help="interaction or activity.")]
EmlOption = Annotated[
    bool, typer.Option("--eml", help="Save the whole message as one .eml attachment instead.")
]
SkipOption = Annotated[
    list[str] | None,
    typer.Option("--skip-attachment", help="Leave out the attachment with this (original) name."),
]
OnlyOption = Annotated[
    str | None, typer.Option("--only", help="Keep only these lines, e.g. from,to (the filter).")
]
PickOption = Annotated[
    list[str] | None,
    typer.Option("--pick", help="ADDRESS=CONTACT_ID: choose one contact for a shared address."),
]
FieldOption = Annotated[
    list[str] | None, typer.Option("--field", help="NAME=VALUE: set an Activity field.")
]
TypeOption = Annotated[
    str | None,
    typer.Option("--activity-type", help="The activity type (default: the organisation's)."),
]
UserOption = Annotated[str, typer.Option("--user", help="The user filing it.")]


def _choices(
    kind: str,
    eml: bool,
    skip: list[str] | None,
    only: str | None,
    picks: list[str] | None,
    fields: list[str] | None,
    activity_type: str | None,
) -> Choices:
    from mailfiler.core.addresses import address_key
    from mailfiler.core.people import LINES
    from mailfiler.core.plan import KINDS, Choices

    if kind not in KINDS:
        _fail(f"--as must be interaction or activity, not {kind!r}", 2)
    lines: frozenset[Line] | None = None
    if only is not None:
        wanted = {part.strip().lower() for part in only.split(",") if part.strip()}
        unknown = wanted - set(LINES)
        if unknown:
            _fail(f"--only takes from, to, cc, bcc; not {', '.join(sorted(unknown))}", 2)
        lines = frozenset(line for line in LINES if line in wanted)
    return Choices(
        kind=_kind(kind),
        lines=lines,
        picks={address_key(k): v for k, v in _pairs(picks, "--pick").items()},
        eml=eml,
        skip_attachments=frozenset(skip or ()),
        activity_type=activity_type,
        fields=_pairs(fields, "--field"),
    )


def _kind(kind: str) -> Kind:
    return "activity" if kind == "activity" else "interaction"


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or ():
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            _fail(f"{option} takes NAME=VALUE, not {value!r}", 2)
        pairs[name.strip()] = rest
    return pairs


@app.command()
def inspect(
    message: Annotated[Path, typer.Argument(help="An .eml, .msg or mbox file.")],
    cloud_id: CloudId,
    user: UserOption,
    kind: KindOption = "interaction",
    eml: EmlOption = False,
    skip_attachment: SkipOption = None,
    only: OnlyOption = None,
    pick: PickOption = None,
    field: FieldOption = None,
    activity_type: TypeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show what filing would save, and why. Writes nothing."""
    choices = _choices(kind, eml, skip_attachment, only, pick, field, activity_type)
    code = _process([str(message)], cloud_id, user, choices, as_json, save=False)
    raise typer.Exit(code)


@app.command("file")
def file_messages(
    paths: Annotated[list[str], typer.Argument(help=".eml/.msg/mbox files, maildirs or folders.")],
    cloud_id: CloudId,
    user: UserOption,
    kind: KindOption = "interaction",
    eml: EmlOption = False,
    skip_attachment: SkipOption = None,
    only: OnlyOption = None,
    pick: PickOption = None,
    field: FieldOption = None,
    activity_type: TypeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """File messages: one Interaction or Activity per matched contact."""
    choices = _choices(kind, eml, skip_attachment, only, pick, field, activity_type)
    code = _process(paths, cloud_id, user, choices, as_json, save=True)
    raise typer.Exit(code)


def _process(
    paths: list[str], cloud_id: str, user: str, choices: Choices, as_json: bool, save: bool
) -> int:
    """File (or inspect) every message; the exit code (see the module's docstring)."""
    from mailfiler.errors import ConnectorUnavailable
    from mailfiler.service import Patience, patient
    from mailfiler.service.sources import find, messages

    found = find(paths)
    if found.missing:
        _fail(f"no such file or folder: {', '.join(found.missing)}", 2)
    with _errors():
        service = _service()
        allowance = service.settings.crm_patience
        # Unknown organisation, user or activity type: say so once, before any work.
        with patient(Patience(allowance, _say_pause)):
            try:
                service.run(
                    cloud_id, user, lambda c: _check_activity_type(c.tenant.options, choices)
                )
            except ConnectorUnavailable as error:
                _fail(f"nothing was filed: {error}", _CRM_FAILED)
    reports: list[dict[str, Any]] = []
    unreadable = 0
    with _progress(len(found.files)) as (advance, paused):
        # A bulk run waits out a throttled or unreachable CRM (a person at the pane would
        # not): up to ``allowance`` per message, then goes on without that message. After
        # a message given up, the next wait at most ``_AFTER_A_GIVE_UP`` each (a short
        # Retry-After is still honoured), until the CRM answers again: a CRM down for good
        # does not cost the whole wait per message.
        waits = allowance
        for path in found.files:
            for source in messages(path):
                with patient(Patience(waits, paused)):
                    report = _one(service, source, cloud_id, user, choices, save)
                waits = min(allowance, _AFTER_A_GIVE_UP) if report["crm_error"] else allowance
                unreadable += report["error"] is not None
                if as_json:
                    out.print(json.dumps(report, ensure_ascii=False), markup=False, highlight=False)
                reports.append(report)
            advance()
    if found.skipped:
        names = ", ".join(str(p) for p in found.skipped[:5])
        more = f" and {len(found.skipped) - 5} more" if len(found.skipped) > 5 else ""
        err.print(f"skipped {len(found.skipped)} file(s) that are not email: {names}{more}")
    if not as_json:
        if len(reports) == 1 and reports[0]["crm_error"]:
            err.print(f"[red]error:[/red] {escape(reports[0]['crm_error'])}", markup=True)
        elif len(reports) == 1:
            _show_one(reports[0])
        else:
            _show_summary(reports)
    if any(_not_filed(report) for report in reports):
        return _CRM_FAILED
    return 1 if unreadable else 0


# Exit code: some messages or records were not filed because the CRM could not be reached,
# or did not take (or never confirmed) a record; filing the same messages again files only
# those. It wins over 1 (unreadable messages): it is the one worth running again.
_CRM_FAILED = 4
_AFTER_A_GIVE_UP = 30.0  # seconds of pauses for each message after one was given up
_NOT_TAKEN = ("failed", "unsure")  # record statuses: the CRM did not take, or never answered


def _not_filed(report: dict[str, Any]) -> bool:
    return bool(report["crm_error"]) or any(r["status"] in _NOT_TAKEN for r in report["results"])


def _say_pause(seconds: float, why: str) -> None:
    """A pause, on its own line (no progress bar to show it on)."""
    if seconds:
        err.print(escape(_pause_words(seconds, why)))


def _pause_words(seconds: float, why: str) -> str:
    return f"waiting {seconds:.1f} s: {why}" if seconds < 10 else f"waiting {seconds:.0f} s: {why}"


def _check_activity_type(options: Options, choices: Choices) -> None:
    if choices.kind == "activity":
        options.activity_type(choices.activity_type)


def _one(
    service: Service, source: Source, cloud_id: str, user: str, choices: Choices, save: bool
) -> dict[str, Any]:
    """One message's report; ``crm_error``: the CRM could not be reached for it (the
    system's fault, apart from ``error``: the message's own)."""
    from mailfiler.errors import ConnectorUnavailable
    from mailfiler.service.views import message_report

    crm_error: str | None = None
    if source.data is None:
        report = message_report(source.label, None, None, source.error)
    else:
        try:
            message = service.read(source.data)
        except InvalidMessage as error:
            report = message_report(source.label, None, None, str(error))
        else:
            act = service.file if save else service.inspect
            # What concerns the whole run (no such user, the database down) ends it.
            with _errors():
                try:
                    outcome: SavePlan = act(cloud_id, user, message, choices)
                    report = message_report(source.label, message, outcome)
                except (InvalidMessage, Conflict) as error:  # this message's own: go on
                    report = message_report(source.label, message, None, str(error))
                except ConnectorUnavailable as error:  # the CRM, past waiting: go on
                    report = message_report(source.label, message, None)
                    crm_error = f"not filed: {error}"
    report["crm_error"] = crm_error
    return report


@contextmanager
def _progress(
    total: int,
) -> Iterator[tuple[Callable[[], None], Callable[[float, str], None]]]:
    """(advance one file, show a pause): on a terminal, a bar whose line shows each pause
    for the CRM while it lasts; elsewhere, each pause on a line of its own."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if total < 2 or not err.is_terminal:
        yield (lambda: None), _say_pause
        return
    with Progress(
        TextColumn("filing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[why]}"),
        console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("filing", total=total, why="")

        def paused(seconds: float, why: str) -> None:
            shown = _pause_words(seconds, why) if seconds else ""
            progress.update(task, why=escape(shown))
            progress.refresh()  # now: the pause may be over before the next redraw

        yield (lambda: progress.advance(task)), paused


# A status's tone (sent with it, core.words) in the terminal's colours.
_COLOUR = {"good": "green", "warn": "yellow", "bad": "red", "plain": "dim"}


def _show_one(report: dict[str, Any]) -> None:
    if report["error"]:
        out.print(f"[red]{report['source']}: cannot be read:[/red] {report['error']}")
        return
    out.print(f"[bold]{report['subject'] or '(no subject)'}[/bold]  {report['message_id'] or ''}")
    table = _table("line", "address", "status", "contact", "reason", title="contacts")
    for r in report["results"]:
        who = f"{r['address']}" + (" (you)" if r["self"] else "")
        style = _COLOUR[r["tone"]]
        contact = r["contact_id"] or ", ".join(r["contact_ids"])
        if r["record_id"]:
            contact += f" → record {r['record_id']}"
        table.add_row(r["role"], who, f"[{style}]{r['status']}[/{style}]", contact, r["reason"])
    out.print(table)
    files = list(report["attachments"]) + ([report["eml"]] if report["eml"] else [])
    if files:
        ftable = _table("file", "saved as", "size", "status", "reason", title="attachments")
        for f in files:
            style = _COLOUR[f["tone"]]
            ftable.add_row(
                f["name"],
                f["saved_as"] or "",
                str(f["size"]),
                f"[{style}]{f['status']}[/{style}]",
                f["reason"],
            )
        out.print(ftable)
    for note in report["notes"]:
        out.print(f"[dim]note: {note}[/dim]")
    _say_what_to_check([report])


def _show_summary(reports: list[dict[str, Any]]) -> None:
    table = _table("message", "subject", "saved", "duplicate", "not saved", "problem")
    totals = {"saved": 0, "duplicate": 0, "other": 0, "errors": 0}
    for report in reports:
        statuses = [r["status"] for r in report["results"]]
        saved = sum(s in ("saved", "would_save", "partial") for s in statuses)
        duplicate = statuses.count("duplicate")
        other = len(statuses) - saved - duplicate
        totals["saved"] += saved
        totals["duplicate"] += duplicate
        totals["other"] += other
        totals["errors"] += report["error"] is not None
        table.add_row(
            report["source"],
            (report["subject"] or "")[:50],
            str(saved),
            str(duplicate),
            str(other),
            report["error"] or report["crm_error"] or "",
        )
    out.print(table)
    out.print(
        f"{len(reports)} message(s): {totals['saved']} contact(s) saved, "
        f"{totals['duplicate']} already saved, "
        f"{totals['other']} not saved, {totals['errors']} could not be read"
    )
    unfiled = [
        r["source"]
        for r in reports
        if r["crm_error"] or any(p["status"] == "failed" for p in r["results"])
    ]
    if unfiled:
        out.print(
            f"Not filed, the CRM could not be reached or did not take them ({len(unfiled)}): "
            f"{', '.join(unfiled)}. Filing them again files only what is missing."
        )
    _say_what_to_check(reports)


def _say_what_to_check(reports: list[dict[str, Any]]) -> None:
    """Records the CRM may hold (unsure) or holds without a file (partial): at once, so that
    nobody learns of them only by looking."""
    unsure = sum(p["status"] == "unsure" for r in reports for p in r["results"])
    partial = sum(p["status"] == "partial" for r in reports for p in r["results"])
    if unsure:
        out.print(
            f"{unsure} record(s) may or may not be in the CRM (unsure): they are not sent "
            "again until someone checks; see mailfiler records --to-check, then mailfiler settle"
        )
    if partial:
        out.print(
            f"{partial} record(s) were saved without some files (partial): filing the same "
            "messages again sends only those files"
        )


# -- checking what is stored ------------------------------------------------------------------


@app.command()
def records(
    cloud_id: CloudId,
    contact: Annotated[str | None, typer.Option("--contact", help="One contact's records.")] = None,
    to_check: Annotated[
        bool,
        typer.Option(
            "--to-check", help="Only the records that need someone: unsure, failed, partial."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List what is stored (newest first), then the records that need someone."""
    from mailfiler.service.views import record_report, to_check_report

    with _errors():
        service = _service()
        found, checks = service.run(
            cloud_id,
            None,
            lambda c: (
                [] if to_check else service.filed_records(c, contact),
                service.records_to_check(c, contact),
            ),
        )
    listed = [record_report(r) for r in found]
    needing = [to_check_report(e) for e in checks]
    if as_json:
        shown = needing if to_check else listed
        out.print(json.dumps(shown, ensure_ascii=False, indent=2), markup=False, highlight=False)
        return
    if not to_check:
        table = _table(
            "kind", "id", "contact", "subject", "files", "status", "created by", "saved by",
            "saved at",
        )  # fmt: skip
        for r in listed:
            missing = ", ".join(f["name"] for f in r["missing_files"])
            table.add_row(
                r["kind"], r["id"], r["contact_id"], r["subject"][:50], str(len(r["attachments"])),
                f"partial: without {missing}" if missing else r["status"], r["created_by"],
                r["saved_by"], r["saved_at"][:19],
            )  # fmt: skip
        out.print(table)
    if needing or to_check:
        _show_to_check(needing)


def _show_to_check(needing: list[dict[str, Any]]) -> None:
    table = _table("number", "status", "kind", "contact", "subject", "why", title="to check")
    for e in needing:
        why = e["reason"]
        if e["missing_files"]:
            why += " (files: " + ", ".join(f["name"] for f in e["missing_files"]) + ")"
        style = _COLOUR[e["tone"]]
        table.add_row(
            str(e["number"]), f"[{style}]{e['status']}[/{style}]", e["kind"], e["contact_id"],
            e["subject"][:50], why,
        )  # fmt: skip
    out.print(table)
    if needing:
        out.print(
            "Check each in the CRM, then: mailfiler settle NUMBER --landed KEY (it is there) "
            "or mailfiler settle NUMBER --send-again (it is not); or let mailfiler ask the "
            "CRM: mailfiler settle NUMBER --ask-crm"
        )
    else:
        out.print("No record needs checking.")


@app.command()
def settle(
    number: Annotated[int, typer.Argument(help="The record's number in `records --to-check`.")],
    cloud_id: CloudId,
    landed: Annotated[
        str | None,
        typer.Option("--landed", help="It is in the CRM: the key the CRM shows for it."),
    ] = None,
    send_again: Annotated[
        bool, typer.Option("--send-again", help="It is not in the CRM: the next save writes it.")
    ] = False,
    ask_crm: Annotated[
        bool,
        typer.Option(
            "--ask-crm", help="Ask the CRM whether it holds it, and settle it if it can tell."
        ),
    ] = False,
    by: Annotated[str, typer.Option("--by", help="Who checked (kept with the record).")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Settle a record that needs someone, after checking the CRM."""
    import getpass

    from mailfiler.service import StillUnknown
    from mailfiler.service.views import to_check_report

    if [landed is not None, send_again, ask_crm].count(True) != 1:
        _fail(
            "say what the CRM holds: --landed KEY (it is there), --send-again (it is not), "
            "or --ask-crm (ask it)",
            2,
        )
    who = by.strip() or getpass.getuser()
    said = ""
    with _errors():
        service = _service()
        if ask_crm:
            [(settled, found)] = service.run(
                cloud_id, None, lambda c: service.ask_the_crm(c, number)
            )
            said = found.reason if isinstance(found, StillUnknown) else ""
        else:
            settled = service.run(
                cloud_id, None, lambda c: service.settle_record(c, number, landed, who)
            )
    report = to_check_report(settled)
    report["crm_said"] = said or None
    if as_json:
        out.print(json.dumps(report, ensure_ascii=False), markup=False, highlight=False)
        return
    record = f" as {report['record_id']}" if report["record_id"] else ""
    out.print(f"Record {number} is now {report['status']}{record}. {report['reason']}".strip())
    if said:
        out.print(f"The CRM cannot tell yet: {said}")


# -- options ------------------------------------------------------------------------------------


@options_app.command("show")
def options_show(cloud_id: CloudId) -> None:
    """Print the organisation's options as JSON, with its CRM's settings ("crm": the site,
    the background account, whether its password is stored (never the password), the
    mapping, and what the set-up check learnt of the site)."""
    from mailfiler.service import crm_settings_view

    with _errors():
        service = _service()
        tenant = service.run(cloud_id, None, lambda c: c.tenant)
    crm = {**crm_settings_view(tenant), "site": tenant.crm_settings.get("site")}
    shown = {**tenant.options.to_json(), "crm": crm}
    out.print(json.dumps(shown, indent=2), markup=False, highlight=False)


@options_app.command("set")
def options_set(
    cloud_id: CloudId,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="NAME=JSON, e.g. allow_duplicates=true max_total_emails=10; "
            "imis.NAME=VALUE changes the iMIS mapping (see the README)"
        ),
    ] = None,
    imis_url: Annotated[
        str | None,
        typer.Option(
            help="The iMIS site's address (https://…); needs --background-password-stdin."
        ),
    ] = None,
    background_account: Annotated[
        str | None,
        typer.Option(
            help="The account every record is written as; for iMIS, with its password "
            "(--background-password-stdin)."
        ),
    ] = None,
    background_password_stdin: Annotated[
        bool,
        typer.Option(
            "--background-password-stdin",
            help="Read the background account's new password from standard input.",
        ),
    ] = False,
) -> None:
    """Change options (each value is JSON; plain words are taken as text), or the CRM's address
    and background account."""
    from mailfiler.service.organisations import CrmChange

    changes: dict[str, Any] = {}
    mapping: dict[str, Any] = {}
    for name, value in _pairs(values or [], "option").items():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if name.startswith("imis."):
            mapping[name.removeprefix("imis.")] = parsed
        else:
            changes[name] = parsed
    if imis_url is not None and not background_password_stdin:
        _fail(
            "--imis-url needs --background-password-stdin: mailfiler never sends the stored "
            "background password to a new address, so give the password for that site too",
            2,
        )
    password = _password_from_stdin(background_password_stdin)
    crm = CrmChange(
        url=imis_url, background_account=background_account, background_password=password,
        mapping=mapping or None,
    )  # fmt: skip
    with _errors():
        service = _service()
        updated = service.change_settings(cloud_id, changes, crm)
    out.print(json.dumps(updated.options.to_json(), indent=2), markup=False, highlight=False)
    kind = service.crm_kind(updated)
    if kind.remote:
        where = updated.crm_settings.get("url")
        out.print(f"Files into {kind.label} at {where} as {updated.background_account}")
        if crm.checked_by_the_set_up():
            with _errors():
                _check_the_change(service, updated.cloud_id)


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve", help="Then start the web service (as `make run` does).")
    ] = False,
    host: Annotated[
        str, typer.Option(help="With --serve: the address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, PortOption] = 8000,
) -> None:
    """Create a demo organisation with contacts, file the demo messages, print what was saved."""
    from mailfiler.demo import CLOUD_ID, PASSWORD, USERNAME, run_demo

    if serve_after:
        _check_port(host, port)
    with _errors():
        run_demo(_service(creating=True), out)
    if serve_after:
        out.print(
            f"\nmailfiler is at http://{host}:{port}/   Cloud ID: {CLOUD_ID}   "
            f"user: {USERNAME}   password: {PASSWORD}"
        )
        serve(host=host, port=port, workers=1, public_url=None)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, PortOption] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each with its own pool).")] = 1,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            envvar="MAILFILER_PUBLIC_URL",
            help="The https address Outlook reaches this server at (for /addin/manifest.xml).",
        ),
    ] = None,
) -> None:
    """Start the web service: the API under /api/v1, its OpenAPI at /docs."""
    import os

    import uvicorn

    _check_port(host, port)
    with _errors():
        service = _service()  # migrate once, before the workers start
        settings = service.settings
        _say_set_up_warnings(service.set_up_warnings())  # once, not once per worker
    os.environ["MAILFILER_DB"] = settings.database_url
    os.environ["MAILFILER_BLOBS"] = str(settings.blobs_dir.resolve())
    os.environ["MAILFILER_MAX_MESSAGE_BYTES"] = str(settings.max_message_bytes)
    if public_url:
        os.environ["MAILFILER_PUBLIC_URL"] = public_url
    _close()
    err.print(f"serving {settings.database_url} at http://{host}:{port}/ (stop with Ctrl-C)")
    uvicorn.run(
        "mailfiler.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


# -- keys ---------------------------------------------------------------------------------------


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored secret with the first key of MAILFILER_SECRET_KEY.

    To change the key: put the new key first and the old one after it
    (new,old) for every server process and for this command, run this, then
    drop the old key. Exit code 1 when a secret opens with none of the keys:
    those are named, and left as they were.
    """
    from mailfiler.service import KEY_VARIABLE

    with _errors():
        rotation = _service().rotate_key()
    out.print(
        f"Stored secrets re-encrypted with the first key of {KEY_VARIABLE}: {rotation.re_encrypted}"
    )
    if rotation.unreadable:
        err.print(f"Not re-encrypted (no key in {KEY_VARIABLE} opens them; left as they were):")
        for name in rotation.unreadable:
            err.print(f"  {escape(name)}")
        raise typer.Exit(1)
    out.print(
        "Every stored secret opens with the first key: once every server process has it first, "
        f"the others can be dropped from {KEY_VARIABLE}"
    )


# -- an organisation that files into iMIS ------------------------------------------------------

imis_app = typer.Typer(help="An organisation that files into iMIS.", no_args_is_help=True)
app.add_typer(imis_app, name="imis")


@imis_app.command("check")
def imis_check(cloud_id: CloudId, as_json: JsonFlag = False) -> None:
    """Check the iMIS set-up as the background account: the site and the password, a user's
    roles, each entity mailfiler writes, the search query and its columns, and whether iMIS
    takes files on an Activity. Nothing is written in iMIS. Each line is ✓ or what to fix;
    exit code 0 when every line is ✓, 1 otherwise (2: no such organisation, or not iMIS)."""
    with _errors():
        checked = _run_check(_service(), cloud_id)
    if as_json:
        shown = {**checked.public(), "site": checked.facts.to_json()}
        out.print(json.dumps(shown, ensure_ascii=False), markup=False, highlight=False)
    else:
        _show_check(checked)
    raise typer.Exit(0 if checked.ok else 1)


def _run_check(service: Service, cloud_id: str) -> SetUpCheck:
    """The set-up check, each pause for iMIS said as it starts (an administrator waits)."""
    from mailfiler.service import INTERACTIVE, Patience, patient

    with patient(Patience(INTERACTIVE, _say_pause)):
        return service.check_crm(cloud_id)


def _show_check(checked: SetUpCheck) -> None:
    for line in checked.lines:
        mark = "[green]✓[/green]" if line.ok else "[red]✗[/red]"
        out.print(f"{mark} {escape(line.what)}: {escape(line.says)}")


def _check_the_change(service: Service, cloud_id: str) -> None:
    """After a change of the site, the background account, its password or the search: the
    set-up check. The change is kept whatever the check finds (a site that cannot be reached
    today must not block the change that points mailfiler at it), and the command says so."""
    out.print("Checking the iMIS set-up:")
    checked = _run_check(service, cloud_id)
    _show_check(checked)
    if not checked.ok:
        out.print(
            "The settings are stored as given. Fix what is marked ✗, then check again: "
            f"mailfiler imis check --cloud-id {cloud_id}"
        )


def _say_set_up_warnings(warnings: list[str]) -> None:
    """What the server's administrator must fix before some organisations can work: on the
    terminal, and as a warning for the log the deployment configured (a handler of its own,
    so that an unconfigured log does not print it on the terminal a second time)."""
    import logging

    from mailfiler import logs

    log = logs.get_logger("mailfiler.serve")
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    for warning in warnings:
        log.warning("%s", warning)
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True, highlight=False)


def main() -> None:
    app()
