"""axe-core (WCAG 2.1 A and AA) on a page of the browser tests, from its npm package, served
from this machine (tests/web/axe, installed by npm on first use)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.conftest import missing

AXE = Path(__file__).parent / "axe"
SCRIPT = AXE / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_script() -> str:
    with open(tempfile.gettempdir() + "/mailfiler-axe.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker installs, the others wait
        if not SCRIPT.exists() and shutil.which("npm"):
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=AXE, capture_output=True, check=False
            )
    if not SCRIPT.exists():
        missing("axe-core could not be installed from the npm registry (npm ci in tests/web/axe)")
    return SCRIPT.read_text()


def violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong on the page as it is now (its rule, and where)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script())
    found: list[dict[str, Any]] = page.evaluate(
        """(rules) => axe.run(document, { runOnly: { type: "tag", values: rules } })
            .then((r) => r.violations.map((v) => ({ rule: v.id, impact: v.impact,
                help: v.help, where: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) })))""",
        RULES,
    )
    return found
