"""The Options screen's "Test the connection" for an iMIS organisation: the saved set-up is
checked against the site, a line per part, right or with what to fix."""

from __future__ import annotations

from playwright.sync_api import expect

from mailfiler import accounts
from tests.conftest import FIXTURES
from tests.imis_site import MANAGER_PASSWORD, PASSWORDS, Site, imis_site, new_imis_org
from tests.web.conftest import Pane


def open_options(pane: Pane) -> None:
    page = pane.open()
    pane.sign_in("admin", password=PASSWORDS["admin"])
    page.set_input_files("#file", str(FIXTURES / "text-only.eml"))
    page.locator(".entry").first.wait_for()
    page.get_by_role("button", name="Options").click()


def test_the_connection_is_tested_line_by_line(pane: Pane, site: Site) -> None:
    pane.org = new_imis_org(pane.server.service, site)
    open_options(pane)
    page = pane.page
    page.get_by_role("button", name="Test the connection").click()
    status = page.locator("#opt-crm-check-status")
    expect(status).to_have_text("Every part of the set-up works.")
    lines = page.get_by_role("list", name="What the test found").get_by_role("listitem")
    expect(lines.first).to_have_text(
        f"✓Right: background account: mailfiler signs in to iMIS at {site.url} as MANAGER"
    )
    expect(lines.filter(has_text="contact search")).to_contain_text("runs, with its columns")
    expect(page.locator(".check-lines .to-fix")).to_have_count(0)
    pane.shoot("options-test-the-connection")
    with pane.server.service.unit() as session:
        facts = accounts.tenant(session, pane.org.cloud_id).crm_settings.site
    assert facts["checked"] is True and facts["site"] == site.url


def test_what_to_fix_is_said_and_an_unsaved_change_is_saved_first(pane: Pane, site: Site) -> None:
    pane.org = new_imis_org(pane.server.service, site)
    with pane.server.service.unit() as session:
        accounts.set_crm(session, pane.org.cloud_id, mapping={"search_query": "$/Nowhere"})
    open_options(pane)
    page = pane.page
    page.get_by_role("button", name="Test the connection").click()
    expect(page.locator("#opt-crm-check-status")).to_have_text("1 part needs fixing (marked ✗).")
    to_fix = page.locator(".check-lines .to-fix")
    expect(to_fix).to_have_text(
        "✗To fix: contact search: the search query $/Nowhere does not exist in iMIS: set it "
        f"with mailfiler options set --cloud-id {pane.org.cloud_id} imis.search_query=…"
    )
    with imis_site() as other:
        page.get_by_label("iMIS address").fill(other.url)
        page.get_by_role("button", name="Test the connection").click()
        expect(page.locator("#opt-crm-check-status")).to_have_text(
            "The test uses the saved settings: save the options first."
        )
        expect(page.locator(".check-lines li")).to_have_count(0)
        page.get_by_label("Background account's password").fill(MANAGER_PASSWORD)
        page.get_by_role("button", name="Save options").click()
        expect(page.get_by_role("status").filter(has_text="Options saved.")).to_be_visible()
        page.get_by_role("button", name="Test the connection").click()
        expect(page.locator(".check-lines .right").first).to_contain_text(other.url)
        assert other.standin.token_requests == ["MANAGER"]  # tested, as saved
