"""The task pane and the staff site for an organisation that files into iMIS (the stand-in)."""

from __future__ import annotations

from dataclasses import replace

from playwright.sync_api import expect

from mailfiler import accounts
from tests.conftest import FIXTURES
from tests.imis_site import PASSWORDS, Site, new_imis_org
from tests.web.conftest import Pane


def test_an_imis_user_signs_in_files_a_message_and_finds_it_on_the_staff_site(
    pane: Pane, site: Site
) -> None:
    pane.org = new_imis_org(pane.server.service, site)
    with pane.server.service.unit() as session:
        tenant = accounts.tenant(session, pane.org.cloud_id)
        profile = f"{site.url}/Party.aspx?ID={{id}}"
        accounts.set_options(
            session, pane.org.cloud_id, replace(tenant.options, profile_url=profile)
        )
    page = pane.open()
    pane.sign_in(password=PASSWORDS["jdoe"])  # the iMIS password: iMIS checks it
    page.set_input_files("#file", str(FIXTURES / "encoded-words.eml"))
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()
    expect(page.locator(".entry")).to_have_count(3)
    page.get_by_role("button", name="Save as Interaction").click()
    results = page.locator(".result")
    expect(results).to_have_count(3)
    expect(results.nth(0)).to_contain_text("saved")
    assert {i["PartyId"] for i in site.standin.interactions} == {"101", "102", "103"}
    assert set(site.standin.writers) == {"manager"}  # written as the background account

    page.goto(pane.server.url + "/staff/#/contacts/101")
    record = page.locator(".record")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("Réunion du comité à Zürich")
    expect(record).to_contain_text("saved by jdoe")
    # The record opens in iMIS, where the organisation's link template says (by default,
    # the contact in iMIS's staff site).
    key = next(i["Id"] for i in site.standin.interactions if i["PartyId"] == "101")
    expect(record).to_contain_text(f"Filed in iMIS as interaction {key}")
    expect(record.get_by_role("link", name="Open it in iMIS")).to_have_attribute(
        "href", f"{site.url}/Account_Page_Staff?ID=101"
    )


def test_a_slow_imis_is_said_while_the_save_waits_and_files_not_kept_are_listed_after(
    pane: Pane, site: Site
) -> None:
    pane.org = new_imis_org(pane.server.service, site)
    page = pane.page
    page.clock.install()  # the pane's timers run on this clock, not the wall's
    pane.open()
    pane.sign_in(password=PASSWORDS["jdoe"])
    page.set_input_files("#file", str(FIXTURES / "encoded-words.eml"))
    expect(page.get_by_role("heading", name="Réunion du comité à Zürich")).to_be_visible()
    site.standin.slow_writes = 1.0  # each write takes a while at this site
    page.get_by_role("button", name="Edit the Email Activity before saving").click()
    page.get_by_role("form", name="Activity").get_by_role("button", name="Save as Activity").click()
    expect(page.get_by_role("status").filter(has_text="Saving…")).to_be_visible()
    page.clock.fast_forward(9_000)
    expect(page.get_by_text("iMIS is slow to answer… still saving")).to_be_visible()
    # This site takes no files on an Activity: the review said so before, the results say
    # so after, naming each file.
    expect(page.locator(".summary-line")).to_be_visible(timeout=60_000)
    files = page.get_by_role("region", name="Files not saved")
    expect(files).to_contain_text("notes été.txt")
    expect(files).to_contain_text("iMIS cannot attach files to an Activity")
    assert len(site.standin.activities) == 3 and site.standin.activity_files == []
    # The staff site names the iMIS Activity by its type, and opens it in iMIS.
    page.goto(pane.server.url + "/staff/#/contacts/101")
    record = page.locator(".record")
    expect(record).to_contain_text("Activity · EMAIL")
    number = site.standin.activities[0]["SEQN"]
    expect(record).to_contain_text(f"Filed in iMIS as activity {number}")
