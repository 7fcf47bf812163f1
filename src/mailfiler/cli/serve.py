"""The web service, and the demo that starts it (`make run`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from mailfiler.cli.admin import _say_set_up_warnings
from mailfiler.cli.common import (
    PortOption,
    app,
    check_port,
    close_service,
    err,
    open_service,
    out,
    reported_errors,
)


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
        check_port(host, port)
    with reported_errors():
        run_demo(open_service(creating=True), out)
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

    check_port(host, port)
    with reported_errors():
        service = open_service()  # migrate once, before the workers start
        settings = service.settings
        _say_set_up_warnings(service.set_up_warnings())  # once, not once per worker
    os.environ["MAILFILER_DB"] = settings.database_url
    os.environ["MAILFILER_BLOBS"] = str(settings.blobs_dir.resolve())
    os.environ["MAILFILER_MAX_MESSAGE_BYTES"] = str(settings.max_message_bytes)
    if public_url:
        os.environ["MAILFILER_PUBLIC_URL"] = public_url
    close_service()
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
