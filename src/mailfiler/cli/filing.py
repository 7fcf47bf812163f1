"""Filing messages, and the records that need someone: inspect, file, records, settle."""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from mailfiler.core.options import Options
    from mailfiler.core.people import Line
    from mailfiler.core.plan import Choices
    from mailfiler.core.rules import Kind
    from mailfiler.service import Service
    from mailfiler.service.sources import Source

from mailfiler.cli.common import (
    CloudId,
    JsonFlag,
    app,
    err,
    fail,
    name_value_pairs,
    new_table,
    open_service,
    out,
    pause_words,
    reported_errors,
    say_pause,
)
from mailfiler.core.words import KIND_NAMES
from mailfiler.errors import (
    ConnectorUnavailable,
)

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


# The filing options, declared once: every filing command takes them all (``with_choices``)
# and receives them as one ``Choices``.
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
FILING_OPTIONS = (
    inspect.Parameter("kind", KEYWORD_ONLY, default="interaction", annotation=KindOption),
    inspect.Parameter("eml", KEYWORD_ONLY, default=False, annotation=EmlOption),
    inspect.Parameter("skip_attachment", KEYWORD_ONLY, default=None, annotation=SkipOption),
    inspect.Parameter("only", KEYWORD_ONLY, default=None, annotation=OnlyOption),
    inspect.Parameter("pick", KEYWORD_ONLY, default=None, annotation=PickOption),
    inspect.Parameter("field", KEYWORD_ONLY, default=None, annotation=FieldOption),
    inspect.Parameter("activity_type", KEYWORD_ONLY, default=None, annotation=TypeOption),
)


def with_choices(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` taking the filing options too, given to it as ``choices``."""
    hints = get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name != "choices"
    ]

    @functools.wraps(command)
    def run(**given: Any) -> None:
        picked = {p.name: given.pop(p.name) for p in FILING_OPTIONS}
        command(**given, choices=_choices(**picked))

    # What typer reads: the command's own parameters, then the filing options.
    run.__signature__ = inspect.Signature([*own, *FILING_OPTIONS])  # type: ignore[attr-defined]
    run.__annotations__ = {}
    return run


def _choices(
    kind: str,
    eml: bool,
    skip_attachment: list[str] | None,
    only: str | None,
    pick: list[str] | None,
    field: list[str] | None,
    activity_type: str | None,
) -> Choices:
    from mailfiler.core.addresses import address_key
    from mailfiler.core.people import LINES
    from mailfiler.core.plan import KINDS, Choices

    if kind not in KINDS:
        fail(f"--as must be interaction or activity, not {kind!r}", 2)
    lines: frozenset[Line] | None = None
    if only is not None:
        wanted = {part.strip().lower() for part in only.split(",") if part.strip()}
        unknown = wanted - set(LINES)
        if unknown:
            fail(f"--only takes from, to, cc, bcc; not {', '.join(sorted(unknown))}", 2)
        lines = frozenset(line for line in LINES if line in wanted)
    return Choices(
        kind=_kind(kind),
        lines=lines,
        picks={address_key(k): v for k, v in name_value_pairs(pick, "--pick").items()},
        eml=eml,
        skip_attachments=frozenset(skip_attachment or ()),
        activity_type=activity_type,
        fields=name_value_pairs(field, "--field"),
    )


def _kind(kind: str) -> Kind:
    return "activity" if kind == "activity" else "interaction"


@app.command("inspect")
@with_choices
def inspect_message(
    message: Annotated[Path, typer.Argument(help="An .eml, .msg or mbox file.")],
    cloud_id: CloudId,
    user: UserOption,
    as_json: JsonFlag = False,
    *,
    choices: Any,
) -> None:
    """Show what filing would save, and why. Writes nothing."""
    code = _process([str(message)], cloud_id, user, choices, as_json, save=False)
    raise typer.Exit(code)


@app.command("file")
@with_choices
def file_messages(
    paths: Annotated[list[str], typer.Argument(help=".eml/.msg/mbox files, maildirs or folders.")],
    cloud_id: CloudId,
    user: UserOption,
    as_json: JsonFlag = False,
    recheck: Annotated[
        bool,
        typer.Option(
            "--recheck",
            help="Read again the messages filed before (passed over unread by their "
            "Message-ID when every record of them is saved).",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Messages read and filed at once, each in a reader process of its own "
            "(default: the machine's cores).",
        ),
    ] = None,
    *,
    choices: Any,
) -> None:
    """File messages: one Interaction or Activity per matched contact."""
    code = _process(paths, cloud_id, user, choices, as_json, save=True, recheck=recheck, jobs=jobs)
    raise typer.Exit(code)


def _process(
    paths: list[str],
    cloud_id: str,
    user: str,
    choices: Choices,
    as_json: bool,
    save: bool,
    recheck: bool = False,
    jobs: int | None = None,
) -> int:
    """File (or inspect) every message; the exit code (see the module's docstring)."""
    from mailfiler.service import Patience, patient
    from mailfiler.service.reader_pool import use_size
    from mailfiler.service.sources import find

    jobs = jobs or os.cpu_count() or 1
    use_size(max(jobs, 2))  # a reader process for each message read at once

    found = find(paths)
    if found.missing:
        fail(f"no such file or folder: {', '.join(found.missing)}", 2)
    with reported_errors():
        service = open_service()
        allowance = service.settings.crm_patience
        # Unknown organisation, user or activity type: say so once, before any work.
        with patient(Patience(allowance, say_pause)):
            try:
                service.run(
                    cloud_id, user, lambda c: _check_activity_type(c.tenant.options, choices)
                )
            except ConnectorUnavailable as error:
                fail(f"nothing was filed: {error}", _CRM_FAILED)
    reports: list[dict[str, Any]] = []
    unreadable = 0
    sizes = [_size_of(path) for path in found.files]
    with (
        _progress(len(found.files), sum(sizes)) as (advance, paused),
        ThreadPoolExecutor(jobs, thread_name_prefix="filing") as pool,
    ):
        # A bulk run waits out a throttled or unreachable CRM (a person at the pane would
        # not): up to ``allowance`` per message, then goes on without that message. After
        # a message given up, the next wait at most ``_AFTER_A_GIVE_UP`` each (a short
        # Retry-After is still honoured), until the CRM answers again: a CRM down for good
        # does not cost the whole wait per message.
        waits = allowance

        def one(source: Source, waits: float) -> dict[str, Any]:
            with patient(Patience(waits, paused)):
                return _one(service, source, cloud_id, user, choices, save, recheck)

        # ``jobs`` messages are read and filed at once (their reads in reader processes of
        # their own, their writes while the others read); reports come out in the order of
        # the messages, and no more than twice ``jobs`` messages are held at a time.
        running: deque[tuple[Future[dict[str, Any]], int]] = deque()

        def finish_oldest() -> None:
            nonlocal waits, unreadable
            future, size = running.popleft()
            report = future.result()
            waits = min(allowance, _AFTER_A_GIVE_UP) if report["crm_error"] else allowance
            unreadable += report["error"] is not None
            if as_json:
                out.print(json.dumps(report, ensure_ascii=False), markup=False, highlight=False)
            reports.append(report)
            advance(size)

        try:
            for source, size in _each_message(found.files, sizes):
                if source is None:
                    advance(size)
                    continue
                # In the run's own context (how it waits out the CRM, where tests record it).
                task = pool.submit(contextvars.copy_context().run, one, source, waits)
                running.append((task, size))
                if len(running) >= 2 * jobs:
                    finish_oldest()
            while running:
                finish_oldest()
        except BaseException:  # the run ends (its database is down, ^C): start nothing more
            for future, _ in running:
                future.cancel()
            raise
    if found.skipped:
        names = ", ".join(str(p) for p in found.skipped[:5])
        more = f" and {len(found.skipped) - 5} more" if len(found.skipped) > 5 else ""
        err.print(f"skipped {len(found.skipped)} file(s) that are not email: {names}{more}")
    filed_before = sum(report["filed_before"] for report in reports)
    if filed_before:
        err.print(
            f"passed over {filed_before} message(s) filed before, every record of them saved "
            "(found by their Message-ID, not read again; --recheck reads them)"
        )
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


def _check_activity_type(options: Options, choices: Choices) -> None:
    if choices.kind == "activity":
        options.activity_type(choices.activity_type)


def _one(
    service: Service,
    source: Source,
    cloud_id: str,
    user: str,
    choices: Choices,
    save: bool,
    recheck: bool,
) -> dict[str, Any]:
    """One message's report; ``crm_error``: the CRM could not be reached for it (the
    system's fault, apart from ``error``: the message's own)."""
    from mailfiler.service.views import message_report

    if source.data is None:
        report = message_report(source.label, None, None, source.error)
        report |= {"crm_error": None, "filed_before": False}
        return report
    # What concerns the whole run (no such user, the database down) ends it.
    with reported_errors():
        done = service.file_bytes(cloud_id, user, source.data, choices, save=save, recheck=recheck)
    report = message_report(source.label, done.message, done.outcome, done.error)
    report |= {"crm_error": done.crm_error, "filed_before": done.filed_before}
    return report


def _each_message(files: list[Path], sizes: list[int]) -> Iterator[tuple[Source | None, int]]:
    """Each message of these files, with the size of its file when it is the file's last
    (0 before it), so progress moves a file on once its last message is done; ``None`` for
    a file with no message in it."""
    from mailfiler.service.sources import messages

    for path, size in zip(files, sizes, strict=True):
        held: Source | None = None
        for source in messages(path):
            if held is not None:
                yield held, 0
            held = source
        yield held, size


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone meanwhile: its read says so
        return 0


@contextmanager
def _progress(
    files: int, total_bytes: int
) -> Iterator[tuple[Callable[[int], None], Callable[[float, str], None]]]:
    """(advance past one file of so many bytes, show a pause): on a terminal, a bar with the
    files done, the megabytes, the rate and the time left, whose line shows each pause for
    the CRM while it lasts; elsewhere, each pause on a line of its own."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if files < 2 or not err.is_terminal:
        yield (lambda size: None), say_pause
        return
    with Progress(
        TextColumn("filing"), BarColumn(), TextColumn("{task.fields[done]}/{task.fields[files]}"),
        DownloadColumn(binary_units=False), TransferSpeedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[why]}"), console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("filing", total=total_bytes, why="", done=0, files=files)

        def advance(size: int) -> None:
            done = progress.tasks[task].fields["done"] + 1
            progress.update(task, advance=size, done=done)

        def paused(seconds: float, why: str) -> None:
            shown = pause_words(seconds, why) if seconds else ""
            progress.update(task, why=escape(shown))
            progress.refresh()  # now: the pause may be over before the next redraw

        yield advance, paused


# A status's tone (sent with it, core.words) in the terminal's colours.
_COLOUR = {"good": "green", "warn": "yellow", "bad": "red", "plain": "dim"}


def _show_one(report: dict[str, Any]) -> None:
    if report["filed_before"]:
        out.print(f"{report['source']}: filed before, every record of it saved (not read again)")
        return
    if report["error"]:
        out.print(f"[red]{report['source']}: cannot be read:[/red] {report['error']}")
        return
    out.print(f"[bold]{report['subject'] or '(no subject)'}[/bold]  {report['message_id'] or ''}")
    table = new_table("line", "address", "status", "contact", "reason", title="contacts")
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
        ftable = new_table("file", "saved as", "size", "status", "reason", title="attachments")
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
    table = new_table("message", "subject", "saved", "duplicate", "not saved", "problem")
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
            "(filed before: not read again)" if report["filed_before"] else
            (report["subject"] or "")[:50],
            str(saved),
            str(duplicate),
            str(other),
            report["error"] or report["crm_error"] or "",
        )  # fmt: skip
    out.print(table)
    before = sum(report["filed_before"] for report in reports)
    out.print(
        f"{len(reports)} message(s): {totals['saved']} contact(s) saved, "
        f"{totals['duplicate']} already saved, "
        f"{totals['other']} not saved, {totals['errors']} could not be read"
        + (f", {before} filed before (not read again)" if before else "")
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

    with reported_errors():
        service = open_service()
        found, checks = service.run(
            cloud_id, None, lambda c: service.records_report(c, contact, to_check)
        )
    listed = [record_report(r) for r in found]
    needing = [to_check_report(e) for e in checks]
    if as_json:
        shown = needing if to_check else listed
        out.print(json.dumps(shown, ensure_ascii=False, indent=2), markup=False, highlight=False)
        return
    if not to_check:
        table = new_table(
            "kind", "id", "contact", "subject", "files", "status", "created by", "saved by",
            "saved at",
        )  # fmt: skip
        for r in listed:
            missing = ", ".join(f["name"] for f in r["missing_files"])
            table.add_row(
                KIND_NAMES[r["kind"]], r["id"], r["contact_id"], r["subject"][:50],
                str(len(r["attachments"])),
                f"partial: without {missing}" if missing else r["status"], r["created_by"],
                r["saved_by"], r["saved_at"][:19],
            )  # fmt: skip
        out.print(table)
    if needing or to_check:
        _show_to_check(needing)


def _show_to_check(needing: list[dict[str, Any]]) -> None:
    table = new_table("number", "status", "kind", "contact", "subject", "why", title="to check")
    for e in needing:
        why = e["reason"]
        if e["missing_files"]:
            why += " (files: " + ", ".join(f["name"] for f in e["missing_files"]) + ")"
        style = _COLOUR[e["tone"]]
        table.add_row(
            str(e["number"]), f"[{style}]{e['label']}[/{style}]", KIND_NAMES[e["kind"]],
            e["contact_id"],
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
        fail(
            "say what the CRM holds: --landed KEY (it is there), --send-again (it is not), "
            "or --ask-crm (ask it)",
            2,
        )
    who = by.strip() or getpass.getuser()
    said = ""
    with reported_errors():
        service = open_service()
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
