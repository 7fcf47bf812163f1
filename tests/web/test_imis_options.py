"""The Options screen of an iMIS organisation: a new address asks for the password with it
(issue 14, finding 2)."""

from __future__ import annotations

from playwright.sync_api import expect

from mailfiler import accounts
from tests.conftest import FIXTURES
from tests.imis_site import MANAGER_PASSWORD, PASSWORDS, Site, imis_site, new_imis_org
from tests.web.conftest import Pane


def test_a_new_address_asks_for_the_background_password_and_says_why(
    pane: Pane, site: Site
) -> None:
    pane.org = new_imis_org(pane.server.service, site)
    page = pane.open()
    pane.sign_in("admin", password=PASSWORDS["admin"])
    page.set_input_files("#file", str(FIXTURES / "text-only.eml"))
    page.locator(".entry").first.wait_for()
    page.get_by_role("button", name="Options").click()
    address = page.get_by_label("iMIS address")
    expect(address).to_have_value(site.url)
    expect(page.get_by_label("Background account", exact=True)).to_have_value("MANAGER")
    why = page.locator("#opt-crm-why")
    expect(why).to_contain_text("Leave it empty to keep the stored password")

    def stored_url() -> str:
        with pane.server.service.unit() as session:
            return str(accounts.tenant(session, pane.org.cloud_id).crm_settings.url)

    with imis_site() as other:
        address.fill(other.url)
        expect(why).to_contain_text(
            "A new address needs the background account's password for it: mailfiler never "
            "sends the stored password to another address or account."
        )
        password = page.get_by_label("Background account's password")
        expect(password).to_have_attribute("required", "")
        page.get_by_role("button", name="Save options").click()  # the browser asks for it
        expect(page.get_by_role("status").filter(has_text="Options saved.")).to_have_count(0)
        assert stored_url() == site.url
        password.fill(MANAGER_PASSWORD)
        page.get_by_role("button", name="Save options").click()
        expect(page.get_by_role("status").filter(has_text="Options saved.")).to_be_visible()
        assert stored_url() == other.url
        expect(password).to_have_value("")  # the password is not kept on the page
        expect(why).to_contain_text("Leave it empty to keep the stored password")
        # Saved as it is, the address it has needs nothing more.
        page.get_by_role("button", name="Save options").click()
        expect(page.get_by_role("status").filter(has_text="Options saved.")).to_be_visible()
        assert other.standin.token_requests == []  # nothing sent to it by a change alone
