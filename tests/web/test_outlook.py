"""The task pane inside Outlook, against a stand-in for Office.js (office_standin.js)."""

from __future__ import annotations

import base64
from typing import Any

from playwright.sync_api import expect

from tests.conftest import fixture_bytes
from tests.web.conftest import Pane

PDF = base64.b64encode(b"%PDF-1.4 minutes").decode()
PNG = (  # a 1 x 1 pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
    "DwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def read_item(**extra: Any) -> dict[str, Any]:
    return {
        "mode": "read",
        "from": {"address": "ann@members.example", "name": "Ann Archer"},
        "to": [
            {"address": "jdoe@acme.example", "name": "Jane Doe"},
            {"address": "bob@members.example", "name": "Bob Baker"},
        ],
        "cc": [{"address": "grace@ito.example", "name": "Grace Ito"}],
        "subject": "Board minutes",
        "html": "<p>The <b>minutes</b> are attached.</p>",
        "internetMessageId": "<board-minutes@members.example>",
        "dateTimeCreated": "2026-11-20T10:00:00Z",
        "attachments": [
            {
                "id": "att1",
                "name": "minutes.pdf",
                "contentType": "application/pdf",
                "size": 16,
                "content": PDF,
            },
            {
                "id": "att2",
                "name": "logo.png",
                "contentType": "image/png",
                "size": 70,
                "isInline": True,
                "content": PNG,
            },
        ],
        **extra,
    }


def test_read_mode_with_get_as_file_sends_the_whole_message(pane: Pane) -> None:
    eml = base64.b64encode(fixture_bytes("encoded-words.eml")).decode()
    page = pane.open(outlook=read_item(getAsFile=True, eml=eml))
    pane.sign_in()
    # Read through getAsFileAsync: the .eml's own subject and attachments, not the item's fields.
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()
    page.locator("#attachments-toggle").click()
    expect(page.locator("#attachment-list li")).to_have_count(2)
    pane.shoot("outlook-read")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result")).to_have_count(3)
    assert pane.org.records("101")[0].message_id == "<encoded-words-1@members.example>"


def test_read_mode_without_get_as_file_uses_the_fields_and_attachment_contents(pane: Pane) -> None:
    page = pane.open(outlook=read_item(getAsFile=False))
    pane.sign_in()
    expect(page.get_by_role("heading", name="Board minutes")).to_be_visible()
    # You are listed explicitly on To: you appear, marked.
    you = page.locator(".entry", has_text="jdoe@acme.example")
    expect(you).to_contain_text("you")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    record = pane.org.records("102")[0]
    assert record.message_id == "<board-minutes@members.example>"
    assert sorted(f.filename for f in record.attachments) == ["logo.png", "minutes.pdf"]
    assert "<b>minutes</b>" in record.body


def test_when_outlook_cannot_hand_over_attachments_the_email_is_saved_and_the_user_told(
    pane: Pane,
) -> None:
    item = read_item(getAsFile=False)
    item["attachments"][0]["content"] = None  # the host refuses this one
    page = pane.open(outlook=item)
    pane.sign_in()
    expect(page.get_by_role("status").filter(has_text="could not hand over")).to_be_visible()
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    expect(page.locator(".notice")).to_contain_text("saved without them")
    record = pane.org.records("102")[0]
    assert [f.filename for f in record.attachments] == ["logo.png"]


def test_compose_mode_reads_the_draft_with_bcc(pane: Pane) -> None:
    compose = {
        "mode": "compose",
        "from": {"address": "jdoe@acme.example", "name": "Jane Doe"},
        "to": [{"address": "bob@members.example", "name": "Bob Baker"}],
        "cc": [],
        "bcc": [{"address": "ann.archer@work.example", "name": "Ann Archer"}],
        "subject": "Your conference place",
        "html": "<p>Booked!</p>",
        "attachments": [
            {
                "id": "c1",
                "name": "programme.pdf",
                "contentType": "application/pdf",
                "size": 16,
                "content": PDF,
            }
        ],
    }
    page = pane.open(outlook=compose)
    pane.sign_in()
    expect(page.get_by_role("heading", name="Your conference place")).to_be_visible()
    expect(page.locator("#filter-bcc")).to_be_visible()  # Bcc exists only while writing
    # You (the sender) do not appear: only when listed on To or Cc.
    expect(page.locator(".entry", has_text="jdoe@acme.example")).to_have_count(0)
    expect(page.locator(".entry", has_text="Ann Archer")).to_contain_text("Bcc")
    pane.shoot("outlook-compose")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result")).to_have_count(2)
    assert [f.filename for f in pane.org.records("101")[0].attachments] == ["programme.pdf"]


def test_a_read_item_in_a_plain_browser_is_the_drop_page(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
