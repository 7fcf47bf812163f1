"""`make run`: the demo organisation is filed once; a second run finds only duplicates."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from mailfiler.config import Settings
from mailfiler.demo import CLOUD_ID, ensure_demo, run_demo
from mailfiler.service import Service


def test_the_demo_files_its_messages_once(tmp_path: Path) -> None:
    service = Service(Settings(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "blobs"))
    service.migrate()
    screen = io.StringIO()
    run_demo(service, Console(file=screen, width=200))
    first = service.run(CLOUD_ID, None, lambda c: c.records.records())
    assert len(first) == 6
    assert "What the CRM now holds" in screen.getvalue()
    assert "renewal-form.pdf" in screen.getvalue()
    # Each row says which kind of record it is.
    held = screen.getvalue().split("What the CRM now holds", 1)[1]
    assert "kind" in held and "Interaction" in held
    again = io.StringIO()
    run_demo(service, Console(file=again, width=200))
    assert len(service.run(CLOUD_ID, None, lambda c: c.records.records())) == 6
    assert "already saved as Interaction" in again.getvalue()  # said as people read it
    service.close()


def test_the_demo_links_each_contact_to_the_staff_sites_own_page(tmp_path: Path) -> None:
    service = Service(Settings(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "blobs"))
    try:
        service.migrate()
        ensure_demo(service)
        options = service.run(CLOUD_ID, None, lambda c: c.tenant.options)
        assert options.profile_link("101") == "/staff/#/contacts/101"
    finally:
        service.close()
