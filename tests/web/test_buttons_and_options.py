"""Save buttons shown, hidden or disabled (roles, hide switch, edition); the Options screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import Pane
from tests.web.test_review import review


def test_both_buttons_for_a_user_allowed_both(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    expect(page.get_by_role("button", name="Save as Interaction")).to_be_enabled()
    expect(page.get_by_role("button", name="Save as Activity")).to_be_enabled()
    expect(page.get_by_role("button", name="Options")).to_have_count(
        0
    )  # Staff cannot change options


def test_the_professional_edition_disables_activities_with_the_reason_on_hover(pane: Pane) -> None:
    pane.org.set_options(edition="professional")
    page = review(pane, "text-only.eml")
    activity = page.get_by_role("button", name="Save as Activity")
    expect(activity).to_be_disabled()
    expect(activity).to_have_attribute(
        "title", "Your organisation's edition (iMIS EMS Professional) cannot save Activities"
    )
    expect(page.locator("#why-activity")).to_contain_text("cannot save Activities")
    expect(page.locator("#edit-activity")).to_have_count(0)
    pane.shoot("professional-edition")


def test_roles_and_the_hide_switch_hide_the_buttons(pane: Pane) -> None:
    pane.org.set_options(activity_roles=("Membership",), hide_interaction=True)
    page = review(pane, "text-only.eml")
    expect(page.get_by_role("button", name="Save as Interaction")).to_have_count(0)
    expect(page.get_by_role("button", name="Save as Activity")).to_have_count(0)


def test_no_contact_selected_disables_saving_and_says_why(pane: Pane) -> None:
    page = review(pane, "text-only.eml")
    page.locator("#filter-from").click()
    page.locator("#filter-to").click()
    button = page.get_by_role("button", name="Save as Interaction")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", "Select at least one contact to save to.")


def test_the_options_screen_edits_everything_and_the_server_applies_it(pane: Pane) -> None:
    page = review(pane, "text-only.eml", username="admin")
    page.get_by_role("button", name="Options").click()
    expect(page.get_by_role("heading", name="Options")).to_be_visible()
    page.get_by_label("Profile URL").fill("https://crm.example/Account?ID={id}")
    page.get_by_label("Max total emails").fill("7")
    page.get_by_label("Allow duplicate emails").check()
    page.get_by_label("Activity roles").fill("Membership, SysAdmin")
    # A role box offers the roles that exist; blank entries are no role.
    page.get_by_role("group", name="Interaction: add an existing role").get_by_role(
        "button", name="+ Staff"
    ).click()
    expect(page.get_by_label("Interaction roles")).to_have_value("Staff")
    page.get_by_label("Add new contact roles").fill("SysAdmin, , ")
    # A new activity type with a field of its own, a default and a mapping.
    page.get_by_role("button", name="Add an activity type").click()
    new_type = page.locator(".activity-type-setup").nth(1)
    new_type.get_by_label("Code", exact=True).fill("BOARD")
    new_type.get_by_label("Name", exact=True).fill("Meeting notes")
    new_type.get_by_role("button", name="Add a field").click()
    new_type.get_by_label("Field name").nth(1).fill("UF_1")
    new_type.get_by_label("Field label").nth(1).fill("Room")
    new_type.get_by_label("Default value of UF_1").fill("Board room")
    new_type.get_by_label("Body →").select_option("UF_1")
    new_type.get_by_label("Default activity type").check()
    pane.shoot("options")
    page.get_by_role("button", name="Save options").click()
    expect(page.get_by_role("status").filter(has_text="Options saved.")).to_be_visible()
    options = pane.org.service.run(pane.org.cloud_id, None, lambda c: c.tenant.options)
    assert options.profile_url == "https://crm.example/Account?ID={id}"
    assert options.max_total_emails == 7 and options.allow_duplicates
    assert options.activity_roles == ("Membership", "SysAdmin")
    assert options.interaction_roles == ("Staff",)
    assert options.add_contact_roles == ("SysAdmin",)
    meeting = options.activity_type("BOARD")
    assert options.default_activity_type == "BOARD"
    assert dict(meeting.defaults) == {"UF_1": "Board room"}
    assert dict(meeting.mapping) == {"subject": "DESCRIPTION", "body": "UF_1"}
    # Back on the message, the activity form comes from the new default type.
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Edit the Meeting notes Activity before saving").click()
    expect(page.get_by_label("Room")).to_have_value(
        "Line one <b>not bold</b> & more.\n\n    indented line"
    )


def test_a_broken_option_is_refused_with_the_reason(pane: Pane) -> None:
    page = review(pane, "text-only.eml", username="admin")
    page.get_by_role("button", name="Options").click()
    page.get_by_label("Profile URL").fill("https://crm.example/no-placeholder")
    page.get_by_role("button", name="Save options").click()
    expect(page.locator(".options .error")).to_contain_text("{id} placeholder")
