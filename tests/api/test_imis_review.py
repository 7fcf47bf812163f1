"""What the review of a message tells the pane of the organisation's CRM: its name (for "iMIS
is slow to answer…") and what adding a contact there cannot promise."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfiler.service import Service
from tests.api.conftest import Api
from tests.api.test_imis_org import headers
from tests.conftest import fixture_bytes
from tests.imis_site import Site, new_imis_org


def test_an_imis_review_names_the_crm_and_what_a_new_contact_cannot_promise(
    client: TestClient, service: Service, site: Site
) -> None:
    auth = headers(client, new_imis_org(service, site))
    answer = client.post(
        "/api/v1/messages",
        content=fixture_bytes("ambiguous.eml"),
        headers={**auth, "Content-Type": "message/rfc822"},
    )
    assert answer.status_code == 201, answer.text
    review = answer.json()
    assert review["crm"] == "iMIS"
    assert "organisation by its name only" in review["new_contact_note"]


def test_a_built_in_review_promises_nothing_it_cannot_keep(api: Api) -> None:
    review = api.read("ambiguous.eml", api.sign_in())
    assert (review["crm"], review["new_contact_note"]) == ("the built-in CRM", None)
