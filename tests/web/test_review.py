"""The review screen, exactly as the product page describes it, in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import FIXTURES
from tests.web.conftest import Pane


def review(pane: Pane, fixture: str, username: str = "jdoe") -> Page:
    page = pane.open()
    pane.sign_in(username)
    page.set_input_files("#file", str(FIXTURES / fixture))
    page.locator(".entry").first.wait_for()
    return page


def names(page: Page) -> list[str]:
    return [n.strip() for n in page.locator(".entry .name").all_inner_texts()]


def test_filters_remove_and_restore_as_the_product_page_says(pane: Pane) -> None:
    page = review(pane, "many-recipients.eml")
    assert names(page)[0] == "Ann Archer"
    assert len(names(page)) == 13
    to = page.get_by_role("button", name="To", exact=False).filter(has_text="To")
    # "You can remove individual entries by clicking the X icon in the corner of each entry."
    page.get_by_role("button", name="Remove Bob Baker").click()
    page.get_by_role("button", name="Remove Grace Ito").click()
    assert "Bob Baker" not in names(page) and "Grace Ito" not in names(page)
    assert len(names(page)) == 11
    # The From entry removed too: the From filter will restore it.
    page.get_by_role("button", name="Remove Ann Archer").click()
    # "Click the To filter twice at the top to toggle it off and back on again."
    to.click()
    expect(to).to_have_attribute("aria-pressed", "false")
    assert names(page) == []  # To is off, and Ann (From) was removed
    to.click()
    expect(to).to_have_attribute("aria-pressed", "true")
    # "This will restore all of the hidden contacts on the To line."
    assert "Bob Baker" in names(page) and "Grace Ito" in names(page)
    assert "Ann Archer" not in names(page)  # the From line's removal stays until From is toggled
    assert len(names(page)) == 12
    from_filter = page.locator("#filter-from")
    from_filter.click()
    from_filter.click()
    assert names(page)[0] == "Ann Archer"
    # Saving follows the screen: To off means no To contacts saved.
    page.locator("#filter-to").click()
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result")).to_have_count(1)
    assert [r.contact_id for r in pane.org.records()] == ["101"]


def test_the_filters_are_keyboard_usable(pane: Pane) -> None:
    page = review(pane, "encoded-words.eml")
    page.locator("#filter-cc").focus()
    page.keyboard.press("Space")
    expect(page.locator("#filter-cc")).to_have_attribute("aria-pressed", "false")
    # Waited for: the pane redraws once the key is released.
    bob = page.locator(".entry .name", has_text="Bob Baker")
    expect(bob).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#filter-cc")).to_have_attribute("aria-pressed", "true")
    expect(bob).to_have_count(1)


def test_unmatched_and_shared_addresses_say_why_and_a_shared_one_can_be_picked(pane: Pane) -> None:
    page = review(pane, "ambiguous.eml")
    shared = page.locator(".entry.ambiguous")
    expect(shared).to_contain_text("merge these contacts")
    expect(page.locator(".entry.no_contact")).to_contain_text(
        "No contact in the CRM has this email address"
    )
    # Staff without the add-contact role are not offered "Add contact".
    expect(page.get_by_role("button", name="Add contact")).to_have_count(0)
    shared.get_by_label("Erin Evans · 105").check()
    pane.shoot("shared-address")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result")).to_have_count(2)
    assert sorted(r.contact_id for r in pane.org.records()) == ["101", "105"]


def test_adding_a_contact_for_an_unmatched_address(pane: Pane) -> None:
    page = review(pane, "ambiguous.eml", username="admin")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_label("Email", exact=True)).to_have_value("nobody@unknown.example")
    page.get_by_label("Full name").fill("Nora Body")
    page.get_by_label("Organization").fill("Unknown Ltd")
    page.get_by_role("button", name="Add contact").click()
    nora = page.locator(".entry", has_text="Nora Body")
    expect(nora).to_contain_text("will be saved")
    expect(nora).to_contain_text("Unknown Ltd")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result", has_text="Nora Body")).to_contain_text("saved")


def test_searching_adds_any_contact(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    page.get_by_label("Add a contact").fill("quinn")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Add Omar Quinn").click()
    expect(page.locator(".entry", has_text="Omar Quinn")).to_contain_text("Added")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result", has_text="Omar Quinn")).to_contain_text("saved")
    assert "115" in [r.contact_id for r in pane.org.records()]


def test_eml_checkbox_hides_the_attachments_and_unchecked_ones_are_left_out(pane: Pane) -> None:
    page = review(pane, "long-lines.eml")
    toggle = page.locator("#attachments-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")  # collapsed at first
    expect(page.locator("#attachment-list")).to_have_count(0)
    toggle.click()  # the arrow or the title expands it
    items = page.locator("#attachment-list li")
    expect(items).to_have_count(4)
    expect(items.nth(0)).to_contain_text(
        'saved as "Board-meeting-papers-for-the-November-2026-ses.pdf"'
    )
    expect(items.nth(1)).to_contain_text("not saved: empty file")
    expect(items.nth(1).get_by_role("checkbox")).to_be_disabled()
    pane.shoot("attachments")
    page.get_by_label("Save Mail Message as EML file attachment").check()
    expect(page.locator(".attachments")).to_have_count(0)  # hidden while EML is checked
    page.get_by_label("Save Mail Message as EML file attachment").uncheck()
    expect(page.locator("#attachments-toggle")).to_have_attribute("aria-expanded", "true")
    items.nth(2).get_by_role("checkbox").uncheck()  # the first budget.csv
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    record = pane.org.records("102")[0]
    assert [f.filename for f in record.attachments] == [
        "Board-meeting-papers-for-the-November-2026-ses.pdf",
        "budget.csv",
    ]


def test_saving_the_whole_message_as_eml(pane: Pane) -> None:
    page = review(pane, "long-lines.eml")
    page.get_by_label("Save Mail Message as EML file attachment").check()
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    assert [f.filename for f in pane.org.records("101")[0].attachments] == ["Board papers.eml"]


def test_the_activity_form_is_prefilled_and_editable(pane: Pane) -> None:
    page = review(pane, "inline-image.eml")
    page.get_by_role("button", name="Edit the Email Activity before saving").click()
    expect(page.get_by_label("Description")).to_have_value("Newsletter draft")
    expect(page.get_by_label("Notes")).to_have_value("Our logo is below.")
    expect(page.get_by_label("Source")).to_have_value("EMAIL")
    # A date and time picker on the viewer's clock (Paris here), saying which zone it is.
    date = page.get_by_label("Activity date (Europe/Paris)")
    expect(date).to_have_attribute("type", "datetime-local")
    expect(date).to_have_value("2026-11-05T11:00")  # sent at 10:00 UTC
    date.fill("2026-11-06T09:30")
    page.get_by_label("Description").fill("Newsletter: logo approved")
    pane.shoot("activity-form")
    page.locator(".activity-form").get_by_role("button", name="Save as Activity").click()
    expect(page.locator(".result")).to_have_count(2)
    activity = pane.org.records("101")[0]
    assert activity.kind == "activity"
    assert activity.fields["DESCRIPTION"] == "Newsletter: logo approved"
    assert activity.fields["TRANSACTION_DATE"] == "2026-11-06T09:30:00+01:00"
    assert activity.body == "Our logo is below."


def test_a_second_save_is_not_offered_once_every_contact_has_it(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    page.get_by_role("button", name="Back to the message").click()
    expect(page.locator(".entry .badge").last).to_have_text("already saved as Interaction")
    again = page.get_by_role("button", name="Save as Interaction")
    expect(again).to_be_disabled()
    expect(page.locator("#why-interaction")).to_have_text(
        "This message is already saved for every contact chosen"
    )
    # An Activity is another record: it can still be saved.
    expect(page.get_by_role("button", name="Save as Activity")).to_be_enabled()
