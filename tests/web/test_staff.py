"""The staff site: find a contact and check what was filed, rendered safely."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from playwright.sync_api import expect

from mailfiler.clock import frozen
from mailfiler.service import Service
from tests.conftest import Org
from tests.web.conftest import Pane


def test_the_timeline_shows_what_was_saved(pane: Pane) -> None:
    # Filed at a fixed moment, shown in the viewer's zone (Paris, UTC+1 in November).
    served = pane.server.service

    def filed_at(minute: int) -> Org:
        clock = frozen(datetime(2026, 11, 14, 16, minute, tzinfo=UTC))
        filing = Service(replace(served.settings, clock=clock), database=served.database)
        return Org(filing, pane.org.cloud_id)

    filed_at(5).file("inline-image.eml")
    filed_at(6).file("encoded-words.eml", kind="activity")
    page = pane.page
    page.set_viewport_size({"width": 1000, "height": 900})
    pane.open("/staff/")
    pane.sign_in()
    page.get_by_label("Find a contact").fill("archer")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ann Archer").click()
    expect(page.get_by_role("heading", name="Ann Archer")).to_be_visible()
    records = page.locator(".record")
    expect(records).to_have_count(2)
    activity, interaction = records.nth(0), records.nth(1)  # newest first
    expect(activity).to_contain_text("Activity · EMAIL")
    expect(activity.locator("pre")).to_have_text("Bonjour à tous,\nl'ordre du jour est joint.")
    # An Activity's fields by their labels, its date on the viewer's clock.
    fields = activity.get_by_role("table", name="Activity fields")
    expect(fields).to_contain_text("Description")
    expect(fields).not_to_contain_text("TRANSACTION_DATE")
    expect(fields.locator("tr", has_text="Activity date")).to_contain_text(
        "Nov 2, 2026, 08:00 AM GMT+1"
    )
    expect(interaction).to_contain_text("created by MANAGER · saved by jdoe")
    expect(interaction).to_contain_text("Saved Nov 14, 2026, 05:05 PM GMT+1")
    # The message as its reader saw it: who sent it, to whom, when.
    expect(interaction).to_contain_text("From: Grace Ito <grace@ito.example>")
    expect(interaction).to_contain_text("To: ann@members.example")
    expect(interaction).to_contain_text("Sent Nov 5, 2026, 11:00 AM GMT+1")
    frame_element = interaction.locator("iframe")
    expect(frame_element).to_have_attribute(
        "sandbox", "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    )
    frame = frame_element.content_frame
    expect(frame.get_by_text("Our logo is below.")).to_be_visible()
    # The inline image is the filed attachment, as a data: URL; nothing remote, no script.
    logo = frame.locator("img[alt=logo]")
    expect(logo).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert frame.locator("script").count() == 0
    assert "tracker.example" not in frame_element.evaluate("e => e.srcdoc")
    pane.shoot("staff-timeline")
    with page.expect_download() as download:
        activity.get_by_role("button", name=re.compile("Download Ordre du jour")).click()
    assert download.value.suggested_filename == "Ordre du jour – réunion de novembre.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read().startswith(b"%PDF-1.4")


def test_the_staff_pages_are_served_under_a_strict_policy(pane: Pane) -> None:
    answer = pane.page.request.get(pane.server.url + "/staff/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"


def test_a_saved_record_link_from_the_pane_opens_it_highlighted(pane: Pane) -> None:
    outcome = pane.org.file("text-only.eml")
    record_id = outcome.participants[1].record_id
    pane.open(f"/staff/#/contacts/101?record=interaction-{record_id}")
    pane.sign_in()
    expect(pane.page.locator(f"#record-interaction-{record_id}")).to_have_class(
        re.compile("highlight")
    )


def test_a_record_whose_image_had_a_broken_type_shows_with_the_others(pane: Pane) -> None:
    from tests.api.test_hostile_values import _hostile

    hostile = pane.org.service.read(_hostile("image/pngé\r\n x".encode(), b"<logo@x>", b"a.png"))
    pane.org.file(hostile)
    pane.org.file("text-only.eml")
    pane.open("/staff/#/contacts/101")
    pane.sign_in()
    records = pane.page.locator(".record")
    expect(records).to_have_count(2)
    expect(pane.page.locator(".record", has_text="logo")).to_contain_text("a.png")


def test_the_api_documentation_works_without_the_internet(pane: Pane) -> None:
    page = pane.page
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if pane.server.url not in r.url else None)
    page.goto(pane.server.url + "/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("mailfiler")
    expect(page.get_by_text("/api/v1/messages", exact=True).first).to_be_visible()
    assert outside == []  # everything came from this server
