"""A staff member of an iMIS organisation works as themselves in iMIS: their search runs with
their own iMIS sign-in, never quietly as the background account, and their roles are read
from iMIS or the sign-in is refused with why, never taken as "no roles"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mailfiler.api.app import create_app
from mailfiler.service import Service
from tests.api.test_imis_org import headers, sign_in
from tests.conftest import Org
from tests.imis_site import Site, new_imis_org


@pytest.fixture
def org(service: Service, site: Site) -> Org:
    return new_imis_org(service, site)


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


def test_a_search_runs_as_the_user_and_never_as_the_background_account(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org)
    found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert found.status_code == 200, found.text
    assert site.standin.searches == [("jdoe", "archer")]
    # iMIS gives a user's token a life of its own: once it has ended, mailfiler's sign-in
    # still holds, but the search asks the user to sign in again.
    site.standin.token_lifetime = 0
    ended = headers(client, org)
    answer = client.get("/api/v1/contacts", params={"q": "baker"}, headers=ended)
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"] == "Your iMIS sign-in has ended: sign in again"
    assert site.standin.searches == [("jdoe", "archer")]  # not as MANAGER


def test_a_user_whose_roles_imis_does_not_give_is_told_why_and_not_signed_in(
    client: TestClient, org: Org, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.standin.unlisted_users.add("jdoe")  # /token takes the password, /api/User lists nobody
    answer = sign_in(client, org, "jdoe")
    assert answer.status_code == 503, answer.text
    assert "cannot read your roles in iMIS" in answer.json()["detail"]
    assert "lists no such user" in caplog.text
    site.standin.unlisted_users.clear()
    assert sign_in(client, org, "jdoe").status_code == 201
