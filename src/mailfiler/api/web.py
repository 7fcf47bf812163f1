"""The pages: the Outlook task pane (also the drop page), the staff site, and the manifest.

Plain HTML, CSS and JavaScript modules served as they are: nothing to build.
Each page is sent with a Content-Security-Policy: the staff site's is strict
(its own scripts only; a filed message's HTML is shown in a sandboxed frame
that can run nothing), the task pane's also allows Office.js, which Outlook
loads from Microsoft.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from string import Template
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parents[1] / "web"
OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"

STAFF_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-src 'self' blob: about:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Outlook shows the pane in a frame of its own pages (on the web) or a web view.
PANE_POLICY = (
    "default-src 'self'; script-src 'self' https://appsforoffice.microsoft.com; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
    "connect-src 'self' https://*.office.com https://*.office365.com https://*.outlook.com; "
    "frame-src 'self' https:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self' https://*.office.com https://*.office365.com "
    "https://*.outlook.com https://outlook.live.com https://*.microsoft.com"
)

# The Outlook add-in manifest: a template, filled in with the server's address.
MANIFEST = Template((WEB / "manifest" / "manifest.xml").read_text(encoding="utf-8"))
DESCRIPTION = "Save email to your CRM as Interactions or Activities, for every contact on it."
TOOLTIP = "Save this email to the CRM for the contacts on it."

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/addin/taskpane.html")


@router.get("/staff")
def staff_home() -> RedirectResponse:
    return RedirectResponse("/staff/")


@router.get("/addin/manifest.xml")
def manifest(request: Request) -> Response:
    """The Outlook add-in manifest, pointing at this server's public address."""
    public = request.app.state.public_url or str(request.base_url)
    return Response(manifest_xml(public), media_type="application/xml")


def manifest_xml(public_url: str) -> str:
    """The manifest (web/manifest/manifest.xml) filled in for this server's address."""
    base = public_url.rstrip("/")
    url = escape(base)
    # The same server always gets the same add-in ID, so re-installing updates it.
    add_in_id = uuid.uuid5(uuid.NAMESPACE_URL, base + "/addin")
    return MANIFEST.substitute(
        url=url, pane=f"{url}/addin/taskpane.html", add_in_id=add_in_id,
        description=DESCRIPTION, tooltip=TOOLTIP,
    )  # fmt: skip


def install(app: FastAPI, public_url: str | None) -> None:
    app.state.public_url = public_url
    app.include_router(router)
    app.mount("/addin", StaticFiles(directory=WEB / "addin", html=True), name="addin")
    app.mount("/staff", StaticFiles(directory=WEB / "staff", html=True), name="staff")
    app.mount("/shared", StaticFiles(directory=WEB / "shared"), name="shared")


def page_headers(path: str, _state: dict[str, Any]) -> dict[str, str]:
    headers = {}
    if path.startswith("/addin/"):
        headers["Content-Security-Policy"] = PANE_POLICY
    elif path.startswith(("/staff", "/shared/")):
        headers["Content-Security-Policy"] = STAFF_POLICY
        headers["X-Frame-Options"] = "DENY"
    if path.endswith((".html", ".js", ".css", "/")):
        # Pages change with each release; a stale script would talk to a newer API.
        headers["Cache-Control"] = "no-cache"
    return headers
