"""The pages in a real browser: Debian's Chromium driven by Playwright, against the real server.

Playwright's own browser download cannot work here, so Chromium comes from
Debian (`apt-get install chromium`, done below when it is missing). Outlook
cannot run here: its Office.js is replaced, at the network level, by a
stand-in that follows the documented shapes (office_standin.js).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from mailfiler.api.app import create_app
from mailfiler.service import Service
from tests.conftest import ROOT, Org, missing, new_org, serving

CHROMIUM = "/usr/bin/chromium"
OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
STANDIN = (Path(__file__).parent / "office_standin.js").read_text()
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWER_ZONE = "Europe/Paris"
# Flags for a headless root session on a machine with no outside network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip


def _ensure_chromium() -> str:
    # Each pytest-xdist worker gets here; the lock makes the others wait for
    # the one installing instead of finding no browser (or apt's lock taken).
    with open(tempfile.gettempdir() + "/mailfiler-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"],
                check=False,
                capture_output=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed and could not be installed with apt-get")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Server:
    url: str
    service: Service


@pytest.fixture(scope="session")
def server(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app on a real port (uvicorn), over a real SQLite file."""
    from tests.conftest import service_for

    service = service_for(sqlite_url, tmp_path_factory.getbasetemp() / "web-blobs")
    with serving(create_app(service.settings, service)) as url:
        yield Server(url, service)


@dataclass
class Pane:
    """A browser page on the task pane, signed in (or not) as one of an organisation's users."""

    page: Page
    server: Server
    org: Org

    def open(
        self, path: str = "/addin/taskpane.html", outlook: dict[str, Any] | None = None
    ) -> Page:
        if outlook is not None:
            self.page.add_init_script(f"window.__outlookItem = {json.dumps(outlook)};")
            self.page.route(
                OFFICE_JS, lambda route: route.fulfill(body=STANDIN, content_type="text/javascript")
            )
        else:
            # A plain browser with no Outlook around it: Office.js is simply not there.
            self.page.route(OFFICE_JS, lambda route: route.fulfill(status=404, body=""))
        self.page.goto(self.server.url + path)
        return self.page

    def sign_in(self, username: str = "jdoe", password: str | None = None) -> None:
        page = self.page
        page.get_by_label("Cloud ID").fill(self.org.cloud_id)
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(
            password or {"jdoe": "jdoe-password", "admin": "admin-pass"}[username]
        )
        page.get_by_role("button", name="Sign in").click()

    def shoot(self, name: str) -> None:
        """Screenshots for the README, written when MAILFILER_SCREENSHOTS is set."""
        if os.environ.get("MAILFILER_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def pane(browser: Browser, server: Server) -> Iterator[Pane]:
    # A fixed zone and locale: what the pages show must not depend on the machine.
    context = browser.new_context(
        viewport={"width": 360, "height": 900}, timezone_id=VIEWER_ZONE, locale="en-US"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Scripts must not fail; a refused request (401, 422 …) is logged by the
    # browser as "Failed to load resource" and is part of what is tested.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    yield Pane(page, server, new_org(server.service))
    context.close()
    assert not errors, f"the page reported errors: {errors}"
