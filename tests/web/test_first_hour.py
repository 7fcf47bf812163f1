"""What a new user meets in the first hour: the review never promises what the save refuses,
its badges follow what the user is doing, and the results say what was not saved too."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.conftest import FIXTURES
from tests.web.conftest import Pane
from tests.web.test_review import review


def badge(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(".entry", has_text=name).locator(".badge").last


def test_a_contact_chosen_by_name_is_saved_though_the_address_is_shared(pane: Pane) -> None:
    page = review(pane, "ambiguous.eml")
    page.get_by_label("Add a contact").fill("Erin")
    page.get_by_role("button", name="Search").click()
    # The contact's own addresses, not only the one that matched.
    expect(page.locator(".search-results")).to_contain_text("shared@family.example")
    page.get_by_role("button", name="Add Erin Evans").click()
    page.get_by_role("button", name="Save as Interaction").click()
    saved = page.locator(".result", has_text="Erin Evans")
    expect(saved).to_contain_text("saved")
    assert "105" in [r.contact_id for r in pane.org.records("105")]


def test_already_saved_follows_the_kind_being_saved(pane: Pane) -> None:
    pane.org.file("text-only.eml")  # Ann has it as an Interaction, not as an Activity
    page = review(pane, "text-only.eml")
    expect(badge(page, "Ann Archer")).to_have_text("already saved as Interaction")
    page.get_by_role("button", name="Edit the Email Activity before saving").click()
    expect(badge(page, "Ann Archer")).to_have_text("will be saved")


def test_after_a_save_the_message_shows_what_was_just_saved(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    expect(badge(page, "Ann Archer")).to_have_text("will be saved")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result").first).to_contain_text("saved")
    page.get_by_role("button", name="Back to the message").click()
    expect(badge(page, "Ann Archer")).to_have_text("already saved as Interaction")


def test_over_the_limit_follows_the_contacts_selected_now(pane: Pane) -> None:
    pane.org.set_options(max_total_emails=3)
    page = review(pane, "long-lines.eml")  # Ann and six colleagues
    expect(badge(page, "Bob Baker")).to_have_text("over the limit")
    for name in ("Hugo Janssen", "Ines Kovac", "Jon Lund", "Farid Haddad"):
        page.get_by_role("button", name=f"Remove {name}").click()
    for name in ("Ann Archer", "Bob Baker", "Grace Ito"):
        expect(badge(page, name)).to_have_text("will be saved")
    expect(page.locator(".entry .reason", has_text="Max Total Emails")).to_have_count(0)
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".result")).to_have_count(3)


def test_the_results_list_what_was_not_saved_and_why(pane: Pane) -> None:
    page = review(pane, "ambiguous.eml")  # Ann; a shared address; an unknown one
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".summary-line")).to_have_text("1 saved, 2 not saved")
    not_saved = page.locator(".not-saved-entry")
    expect(not_saved).to_have_count(2)
    expect(not_saved.filter(has_text="shared@family.example")).to_contain_text("Dan Evans")
    expect(not_saved.filter(has_text="nobody@unknown.example")).to_contain_text("No contact")


def test_another_message_can_be_filed_without_reloading(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    page.get_by_role("button", name="Save as Interaction").click()
    page.get_by_role("button", name="File another message").click()
    expect(page.get_by_text("Drop an email here")).to_be_visible()
    page.set_input_files("#file", str(FIXTURES / "ambiguous.eml"))
    expect(page.get_by_role("heading", name="Family membership")).to_be_visible()
    # And a drop anywhere, at any time, reads the dropped message.
    data = (FIXTURES / "encoded-words.eml").read_bytes()
    transfer = page.evaluate_handle(
        """([bytes]) => { const t = new DataTransfer();
            t.items.add(new File([new Uint8Array(bytes)], "m.eml", {type: "message/rfc822"}));
            return t; }""",
        [list(data)],
    )
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()


# -- the pane keeps no copy of a rule: it shows the server's answer for the choices now --


def test_a_double_click_on_save_saves_once(pane: Pane) -> None:
    page = review(pane, "text-only.eml")  # Ines and Ann
    page.get_by_role("button", name="Save as Interaction").dblclick()
    expect(page.locator(".summary-line")).to_have_text("2 saved, 0 not saved")
    expect(page.locator(".result .badge")).to_have_text(["saved", "saved"])
    assert len(pane.org.records("101")) == 1


def test_a_contact_added_by_search_shows_it_was_saved_after_back(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    page.get_by_label("Add a contact").fill("Kim")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Add Kim Moreau").click()
    expect(badge(page, "Kim Moreau")).to_have_text("will be saved")
    page.get_by_role("button", name="Save as Interaction").click()
    expect(page.locator(".summary-line")).to_have_text("3 saved, 0 not saved")
    page.get_by_role("button", name="Back to the message").click()
    expect(badge(page, "Kim Moreau")).to_have_text("already saved as Interaction")
    expect(badge(page, "Ann Archer")).to_have_text("already saved as Interaction")


def test_over_the_limit_says_what_would_happen_and_save_is_disabled_with_why(pane: Pane) -> None:
    pane.org.set_options(max_total_emails=3)
    page = review(pane, "long-lines.eml")  # Ann and six colleagues: 7 contacts
    expect(badge(page, "Bob Baker")).to_have_text("over the limit")
    reason = page.locator(".entry", has_text="Bob Baker").locator(".reason")
    expect(reason).to_contain_text("would")
    expect(reason).not_to_contain_text("was saved")
    save = page.get_by_role("button", name="Save as Interaction")
    expect(save).to_be_disabled()
    why = page.locator("#why-interaction")
    expect(why).to_contain_text("Max Total Emails")
    expect(save).to_have_attribute("aria-describedby", "why-interaction")
    assert pane.org.records() == []


def test_a_click_is_never_lost_to_the_server_answering_while_the_button_is_held(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    held: list[Any] = []
    page.route(
        "**/preview", lambda route: held.append(route)
    )  # the server's answer waits until we let it go
    page.locator("#filter-to").click()
    page.locator("#filter-to").click()  # a change: the pane asks what a save would do now
    while not held:
        page.wait_for_timeout(20)
    save = page.get_by_role("button", name="Save as Interaction")
    box = save.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for route in held:  # the answer comes while the button is held down
        route.continue_()
    page.wait_for_timeout(300)
    page.mouse.up()
    expect(page.locator(".summary-line")).to_have_text("2 saved, 0 not saved")
