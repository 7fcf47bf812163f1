"""Two organisations on one server, each with its own iMIS site (issue 14, finding 1): one
pointed at the other's site with a wrong password reads and writes nothing there, and a
signed-in user's own iMIS token never goes to another address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mailfiler.api.app import create_app
from mailfiler.service import Service
from tests.api.test_imis_org import headers
from tests.conftest import fixture_bytes
from tests.imis_site import MANAGER_PASSWORD, Site, imis_site, new_imis_org, set_site
from tests.imis_standin import Party

PRIVATE = (
    b"From: only@victim.example\r\nTo: jdoe@acme.example\r\nSubject: private\r\n"
    b"Message-ID: <private@victim.example>\r\n\r\nHello.\r\n"
)


@pytest.fixture
def two_sites() -> Iterator[tuple[Site, Site]]:
    with imis_site() as victims, imis_site() as others:
        victims.standin.parties["777"] = Party(
            "777", "Only At The Victim's", ["only@victim.example"]
        )
        yield victims, others


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


def test_an_organisation_at_the_other_s_site_with_a_wrong_password_gets_nothing_there(
    service: Service, client: TestClient, two_sites: tuple[Site, Site]
) -> None:
    victims, others = two_sites
    victim = new_imis_org(service, victims)
    intruder = new_imis_org(service, others)
    victim_admin = headers(client, victim, "admin")
    intruder_admin = headers(client, intruder, "admin")
    # Both work, each at its own site, each with its own token.
    assert '"saved"' in client.post(
        f"/api/v1/messages/{read_ref(client, victim_admin)}/interactions", json={},
        headers=victim_admin,
    ).text  # fmt: skip
    assert victims.standin.token_requests == ["MANAGER", "admin"]
    assert others.standin.token_requests == ["MANAGER", "admin"]
    seen, written = len(victims.standin.requests), len(victims.standin.interactions)

    # The intruder's address is moved to the victim's site, with a password that is not the
    # victim's (the change needs one): nothing of the victim's is read or written.
    set_site(intruder, victims.url, password="a-guess")
    for _ in range(5):
        answer = client.post(
            "/api/v1/messages", content=PRIVATE,
            headers={**intruder_admin, "Content-Type": "message/rfc822"},
        )  # fmt: skip
        assert answer.status_code in (401, 503), answer.text
        assert "Only At The Victim" not in answer.text
    assert len(victims.standin.interactions) == written
    assert victims.standin.requests[seen:] == []  # not one API call with any token
    # One failed login of the guess; the victim's own token was never evicted.
    assert victims.standin.token_requests == ["MANAGER", "admin", "MANAGER"]
    again = client.get("/api/v1/contacts", params={"q": "victim"}, headers=victim_admin)
    assert again.status_code == 200
    assert victims.standin.token_requests.count("MANAGER") == 2  # still its first token


def read_ref(client: TestClient, auth: dict[str, str]) -> str:
    answer = client.post(
        "/api/v1/messages",
        content=fixture_bytes("text-only.eml"),
        headers={**auth, "Content-Type": "message/rfc822"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["message_ref"])


def test_a_user_s_own_token_never_goes_to_a_new_address(
    service: Service, client: TestClient, two_sites: tuple[Site, Site]
) -> None:
    first, second = two_sites
    org = new_imis_org(service, first)
    jdoe = headers(client, org)
    assert client.get("/api/v1/contacts", params={"q": "archer"}, headers=jdoe).status_code == 200
    assert first.standin.searches == [("jdoe", "archer")]
    # An Options admin moves the organisation to another site (with that site's password).
    set_site(org, second.url, password=MANAGER_PASSWORD)
    moved = client.get("/api/v1/contacts", params={"q": "archer"}, headers=jdoe)
    assert moved.status_code == 401
    assert "sign in again" in moved.json()["detail"]
    assert second.standin.searches == []
    assert ("GET", "/api/iqa") not in second.standin.requests
    # Signed in again, at the new site, the search runs there as them.
    again = headers(client, org)
    assert client.get("/api/v1/contacts", params={"q": "archer"}, headers=again).status_code == 200
    assert second.standin.searches == [("jdoe", "archer")]
