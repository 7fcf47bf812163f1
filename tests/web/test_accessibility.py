"""Every state of the task pane and the staff site passes axe-core (WCAG 2.1 A and AA), and one
journey of the product page is walked with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import FIXTURES, new_org
from tests.web.accessibility import violations
from tests.web.conftest import VIEWER_ZONE, Pane, Server


@pytest.fixture
def checked(browser: Browser, server: Server) -> Iterator[Pane]:
    """A pane whose pages may take axe-core's script (their policy allows only their own)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 900}, timezone_id=VIEWER_ZONE, locale="en-US",
        bypass_csp=True,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    yield Pane(context.new_page(), server, new_org(server.service))
    context.close()


def drop(page: Page, fixture: str) -> None:
    transfer = page.evaluate_handle(
        """([bytes, name]) => { const t = new DataTransfer();
            t.items.add(new File([new Uint8Array(bytes)], name, {type: "message/rfc822"}));
            return t; }""",
        [list((FIXTURES / fixture).read_bytes()), fixture],
    )
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})


def clean(page: Page, state: str) -> None:
    found = violations(page)
    assert found == [], f"{state}: {found}"


def test_every_state_of_the_pane_and_the_staff_site_passes_axe(checked: Pane) -> None:
    page = checked.open()
    clean(page, "sign-in")
    checked.sign_in("admin")
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    clean(page, "drop page")
    page.set_input_files("#file", str(FIXTURES / "ambiguous.eml"))
    expect(page.locator(".entry")).to_have_count(3)
    clean(page, "review with a shared and an unknown address")
    page.get_by_role("button", name="Add contact").click()
    clean(page, "adding a contact")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_label("Add a contact").fill("Erin")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".search-results")).to_be_visible()
    clean(page, "search results")
    drop(page, "encoded-words.eml")  # the next message, dropped on the review
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()
    page.get_by_role("button", name="Attachments").click()
    clean(page, "attachments open")
    page.get_by_role("button", name="Edit the Email Activity before saving").click()
    clean(page, "activity form")
    page.get_by_role("button", name="Cancel").click()
    for name in ("Ann Archer", "Bob Baker", "Carla Díaz"):
        page.get_by_role("button", name=f"Remove {name}").click()
    clean(page, "nothing selected: save buttons disabled with their reason")
    page.get_by_role("button", name="To", exact=False).filter(has_text="To").click()
    page.get_by_role("button", name="To", exact=False).filter(has_text="To").click()
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".summary-line")).to_be_visible()
    clean(page, "results")
    page.get_by_role("button", name="Options").click()
    expect(page.get_by_role("heading", name="Options")).to_be_visible()
    clean(page, "options")
    page.goto(checked.server.url + "/staff/")
    page.get_by_label("Find a contact").fill("diaz")
    page.get_by_role("button", name="Search").click()
    clean(page, "staff search")
    page.get_by_role("link", name="Carla Díaz").click()
    expect(page.locator(".record").first).to_be_visible()
    clean(page, "staff contact and timeline")


def test_the_product_page_journey_with_the_keyboard_alone(checked: Pane) -> None:
    page = checked.open()
    checked.sign_in()  # (typing in the form is keyboard use too)
    expect(page.locator("#drop")).to_be_focused()  # the keyboard starts at the drop zone
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#drop")).to_be_focused()  # ... and the hidden file input is no stop
    # Enter on the drop zone opens the file chooser (the file input is clicked) ...
    page.evaluate(
        "document.getElementById('file').addEventListener('click', () => { window.opened = true; })"
    )
    page.keyboard.press("Enter")
    page.wait_for_function("window.opened === true")
    # ... where the user picks the file (the dialog itself is the browser's own).
    page.set_input_files("#file", str(FIXTURES / "many-recipients.eml"))
    expect(page.locator("#message-title")).to_be_focused()
    # Remove an entry with its X: the keyboard stays in the list, on the next X.
    remove = page.get_by_role("button", name="Remove Bob Baker")
    remove.focus()
    page.keyboard.press("Enter")
    focused = page.evaluate("document.activeElement.id")
    assert focused.startswith("remove-"), focused
    # The EML box and the attachments toggle keep focus when pressed.
    page.locator("#eml").focus()
    page.keyboard.press("Space")
    expect(page.locator("#eml")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#eml")).to_be_checked(checked=False)
    # Save with the keyboard and come back to the message.
    page.get_by_role("button", name="Save as Interaction").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#results-title")).to_be_focused()
    page.locator("#back").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#message-title")).to_be_focused()
    assert "will be saved" not in page.locator(".entry").first.inner_text()


def test_the_shared_address_choice_keeps_the_keyboard_in_its_group(checked: Pane) -> None:
    page = checked.open()
    checked.sign_in()
    page.set_input_files("#file", str(FIXTURES / "ambiguous.eml"))
    first = page.get_by_role("radio").first
    first.focus()
    page.keyboard.press("ArrowDown")
    second = page.get_by_role("radio").nth(1)
    expect(second).to_be_focused()
    expect(second).to_be_checked()


def test_the_header_buttons_show_where_focus_is(checked: Pane) -> None:
    page = checked.open()
    checked.sign_in()
    expect(page.locator("#drop")).to_be_focused()  # signed in, the header drawn for good
    button = page.get_by_role("button", name="Sign out")
    button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    outline = button.evaluate("b => getComputedStyle(b).outlineColor")
    header = button.evaluate("b => getComputedStyle(b.closest('header')).backgroundColor")
    assert outline != header and outline == "rgb(255, 255, 255)"
    # Hovered, its white text keeps a contrast of at least 4.5:1 (WCAG AA).
    button.hover()
    background = button.evaluate("b => getComputedStyle(b).backgroundColor")
    assert contrast(background, "rgb(255, 255, 255)") >= 4.5, background


def contrast(one: str, other: str) -> float:
    def luminance(colour: str) -> float:
        red, green, blue = (int(v) / 255 for v in colour[colour.index("(") + 1 : -1].split(",")[:3])

        def linear(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_records_to_check_are_settled_on_the_staff_site(checked: Pane) -> None:
    org = checked.org
    with org.service.unit() as session:
        organisation_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == org.cloud_id)
        )
        for contact_id, subject in (("101", "Board papers"), ("102", "Annual dues")):
            session.add(
                FilingEntry(
                    organisation_id=organisation_id, contact_id=contact_id, kind="interaction",
                    message_key=f"<{contact_id}@members.example>", copy=0, state="unsure",
                    subject=subject, saved_by="jdoe", reason="iMIS did not answer in time",
                    reserved_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                )
            )  # fmt: skip
    page = checked.page
    page.goto(checked.server.url + "/staff/")
    checked.sign_in("admin")
    page.get_by_role("link", name="Records to check").click()
    expect(page.get_by_role("heading", name="Records to check (2)")).to_be_visible()
    expect(page.locator(".check").first).to_contain_text("iMIS did not answer in time")
    clean(page, "staff records to check")
    board = page.locator(".check", has_text="Board papers")
    board.get_by_label("Its key in the CRM").fill("CL-42")
    board.get_by_role("button", name="It is there").click()
    expect(page.get_by_role("heading", name="Records to check (1)")).to_be_focused()
    dues = page.locator(".check", has_text="Annual dues")
    dues.get_by_role("button", name="It is not: send it again").click()
    expect(page.get_by_role("heading", name="Records to check (1)")).to_be_visible()
    expect(page.locator(".check", has_text="Annual dues")).to_contain_text(
        "the next save writes it"
    )
    # On the contact's own page too, for every staff member.
    page.locator(".check", has_text="Annual dues").get_by_role("link", name="contact 102").click()
    expect(page.get_by_role("region", name="Records to check")).to_contain_text("Annual dues")
    clean(page, "staff contact with a record to check")
