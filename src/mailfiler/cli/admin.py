"""Administering an installation: organisations, users, options, keys, the iMIS set-up."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from mailfiler.service import Service, SetUpCheck

from mailfiler.cli.common import (
    CloudId,
    JsonFlag,
    app,
    err,
    fail,
    name_value_pairs,
    new_table,
    open_service,
    options_app,
    out,
    password_from_stdin,
    reported_errors,
    say_pause,
    users_app,
)
from mailfiler.core.limits import size_in_words

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
    password = password_from_stdin(background_password_stdin)
    with reported_errors():
        service = open_service(creating=True)
        tenant = service.create_organisation(
            cloud_id, name, background_account, edition, crm=crm, url=imis_url,
            background_password=password,
        )  # fmt: skip
        where = service.settings.database_url
        from mailfiler.service import crm_settings_view

        crm_now = crm_settings_view(tenant)
        into = f", filing into {crm_now.label} at {crm_now.url}" if crm_now.remote else ""
        out.print(f"Created organisation {tenant.cloud_id} ({tenant.name}) in {where}{into}")
        if crm_now.remote:
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
    password = password_from_stdin(password_stdin)
    with reported_errors():
        service = open_service()
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
    with reported_errors():
        service = open_service()
        rows = service.run(cloud_id, None, service.users)
    listed: list[dict[str, Any]] = [
        {"username": u.username, "email": u.email, "roles": list(u.roles), "disabled": u.disabled}
        for u in rows
    ]
    if as_json:
        out.print_json(data=listed)
        return
    table = new_table("user", "email", "roles", "disabled")
    for u in listed:
        table.add_row(
            u["username"], u["email"], ", ".join(u["roles"]), "yes" if u["disabled"] else ""
        )
    out.print(table)


# -- contacts -----------------------------------------------------------------------------------


@options_app.command("show")
def options_show(cloud_id: CloudId) -> None:
    """Print the organisation's options as JSON, with its CRM's settings ("crm": the site,
    the background account, whether its password is stored (never the password), the
    mapping, and what the set-up check learnt of the site)."""
    from mailfiler.service import crm_settings_view

    with reported_errors():
        service = open_service()
        tenant = service.run(cloud_id, None, lambda c: c.tenant)
    crm = crm_settings_view(tenant).to_json(with_site=True)
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
    for name, value in name_value_pairs(values or [], "option").items():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if name.startswith("imis."):
            mapping[name.removeprefix("imis.")] = parsed
        else:
            changes[name] = parsed
    if imis_url is not None and not background_password_stdin:
        fail(
            "--imis-url needs --background-password-stdin: mailfiler never sends the stored "
            "background password to a new address, so give the password for that site too",
            2,
        )
    password = password_from_stdin(background_password_stdin)
    crm = CrmChange(
        url=imis_url, background_account=background_account, background_password=password,
        mapping=mapping or None,
    )  # fmt: skip
    with reported_errors():
        service = open_service()
        updated = service.change_settings(cloud_id, changes, crm)
    out.print(json.dumps(updated.options.to_json(), indent=2), markup=False, highlight=False)
    from mailfiler.service import crm_settings_view

    crm_now = crm_settings_view(updated)
    if crm_now.remote:
        where, label = crm_now.url, crm_now.label
        out.print(f"Files into {label} at {where} as {updated.background_account}")
        if crm.checked_by_the_set_up():
            with reported_errors():
                _check_the_change(service, updated.cloud_id)


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

    with reported_errors():
        rotation = open_service().rotate_key()
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


# -- where files are kept -----------------------------------------------------------------------


@app.command("move-files")
def move_files() -> None:
    """Move the attachment contents kept in the blob folder (--blobs, MAILFILER_BLOBS) into
    the database, where every server reads them (MAILFILER_FILES_IN=database, PostgreSQL's
    default). Each file leaves the folder once the database has it; run it again after an
    interruption. Exit code 1 when a file's content is not what its name says: those are
    named, and left in the folder."""
    with reported_errors():
        done = open_service().move_files_into_database()
    where = escape(str(done.folder))
    out.print(
        f"Moved {done.moved} files ({size_in_words(done.size)}) from {where} into the database"
        + (f"; {done.there_already} were there already" if done.there_already else "")
    )
    if done.damaged:
        err.print(f"Left in {where} (their content is not what their name says):")
        for sha256 in done.damaged:
            err.print(f"  {sha256}")
        raise typer.Exit(1)


# -- an organisation that files into iMIS ------------------------------------------------------

imis_app = typer.Typer(help="An organisation that files into iMIS.", no_args_is_help=True)
app.add_typer(imis_app, name="imis")


@imis_app.command("check")
def imis_check(cloud_id: CloudId, as_json: JsonFlag = False) -> None:
    """Check the iMIS set-up as the background account: the site and the password, a user's
    roles, each entity mailfiler writes, the search query and its columns, and whether iMIS
    takes files on an Activity. Nothing is written in iMIS. Each line is ✓ or what to fix;
    exit code 0 when every line is ✓, 1 otherwise (2: no such organisation, or not iMIS)."""
    with reported_errors():
        checked = _run_check(open_service(), cloud_id)
    if as_json:
        shown = {**checked.public(), "site": checked.facts.to_json()}
        out.print(json.dumps(shown, ensure_ascii=False), markup=False, highlight=False)
    else:
        _show_check(checked)
    raise typer.Exit(0 if checked.ok else 1)


def _run_check(service: Service, cloud_id: str) -> SetUpCheck:
    """The set-up check, each pause for iMIS said as it starts (an administrator waits)."""
    from mailfiler.service import INTERACTIVE, Patience, patient

    with patient(Patience(INTERACTIVE, say_pause)):
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
