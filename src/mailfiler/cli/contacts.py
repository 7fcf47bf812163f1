"""The contacts of the built-in CRM: imported from a file, searched."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass

from mailfiler.cli.common import (
    CloudId,
    JsonFlag,
    contacts_app,
    err,
    fail,
    new_table,
    open_service,
    out,
    reported_errors,
)
from mailfiler.errors import (
    BadRequest,
)


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
        fail(f"{csv_file} cannot be read: {error}", 1)
    rows, problems = read_contacts(text)
    if problems:
        for problem in problems:
            err.print(f"[red]error:[/red] {problem}", markup=True)
        fail(f"nothing was imported: {len(problems)} row(s) need fixing", 1)
    with reported_errors():
        service = open_service()
        try:
            with _progress(len(rows)) as advance:
                added, updated = service.import_contacts(cloud_id, rows, advance)
        except BadRequest as error:
            fail(f"nothing was imported: {error}", 1)
    out.print(f"Imported {len(rows)} contact(s) into {cloud_id}: {added} added, {updated} updated")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """``done(rows written)``: on a terminal, a bar with the rate and the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    if not err.is_terminal:
        yield lambda done: None
        return
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("importing", total=total)
        yield lambda done: progress.update(task, completed=done)


@contacts_app.command("search")
def contacts_search(
    query: Annotated[str, typer.Argument(help="A name, an address or a contact ID.")],
    cloud_id: CloudId,
    as_json: JsonFlag = False,
) -> None:
    """Find contacts by name, address or ID."""
    with reported_errors():
        service = open_service()
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
    table = new_table("id", "name", "organization", "emails")
    for c in listed:
        table.add_row(c["id"], c["full_name"], c["organization"], "; ".join(c["emails"]))
    out.print(table)
