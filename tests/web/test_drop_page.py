"""The drop page (the task pane in a plain browser): sign in, drop a file, review, save."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import FIXTURES, corpus_path
from tests.web.conftest import Pane


def test_sign_in_then_drop_a_message_and_save_it(pane: Pane) -> None:
    page = pane.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    pane.shoot("sign-in")
    pane.sign_in()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    pane.shoot("drop-page")
    page.set_input_files("#file", str(FIXTURES / "encoded-words.eml"))
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()
    entries = page.locator(".entry")
    expect(entries).to_have_count(3)
    expect(entries.nth(0)).to_contain_text("Ann Archer")
    expect(entries.nth(0)).to_contain_text("Archer & Co")
    pane.shoot("review")
    page.get_by_role("button", name="Save as Interaction").click()
    results = page.locator(".result")
    expect(results).to_have_count(3)
    expect(results.nth(0)).to_contain_text("saved")
    expect(results.nth(0).get_by_role("link", name="Open the Interaction")).to_have_attribute(
        "href", re.compile(r"/staff/#/contacts/101\?record=interaction-\d+")
    )
    pane.shoot("saved")
    assert sorted(r.contact_id for r in pane.org.records()) == ["101", "102", "103"]


def test_dropping_an_outlook_msg_file_from_the_corpus(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in()
    msg = corpus_path() / "apache-poi" / "hsmf" / "attachment_msg_pdf.msg"
    # A real drag and drop: a DataTransfer holding the file, dropped on the zone.
    page.locator("#drop").wait_for()
    data = msg.read_bytes()
    handle = page.evaluate_handle(
        """([bytes, name]) => {
            const transfer = new DataTransfer();
            const type = "application/vnd.ms-outlook";
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type}));
            return transfer;
        }""",
        [list(data), msg.name],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": handle})
    expect(page.get_by_role("heading", name="test email")).to_be_visible()
    expect(page.locator(".entry").first).to_contain_text("nick.booth@pof.com.au")
    expect(page.locator(".entry").first).to_contain_text("no contact")


def test_a_file_that_is_not_mail_is_refused_with_the_reason(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in()
    page.set_input_files(
        "#file", {"name": "notes.eml", "mimeType": "message/rfc822", "buffer": b"%PDF-1.4 no"}
    )
    expect(page.get_by_role("alert")).to_contain_text("not an email message")
    expect(page.get_by_text("Drop an email here")).to_be_visible()


def test_an_ended_sign_in_asks_again_then_carries_on(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    # The server forgets every sign-in (as when a token passes its 24 hours).
    with pane.server.service.unit() as session:
        from mailfiler.storage.tables import SignInSession

        session.query(SignInSession).delete()
    page.set_input_files("#file", str(FIXTURES / "text-only.eml"))
    expect(page.get_by_role("status")).to_contain_text("Your sign-in has ended")
    expect(page.get_by_label("Cloud ID")).to_have_value(pane.org.cloud_id)
    expect(page.get_by_label("User name")).to_have_value("jdoe")
    page.get_by_label("Password").fill("jdoe-password")
    page.get_by_role("button", name="Sign in").click()
    # ... and the message it was reading is read.
    expect(page.get_by_role("heading", name=re.compile("Plain text with"))).to_be_visible()


def test_a_kept_token_survives_a_reload_and_is_renewed(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    stored = page.evaluate("JSON.parse(localStorage.getItem('mailfiler.session'))")
    assert stored["token"] and stored["cloud_id"] == pane.org.cloud_id
    page.reload()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
