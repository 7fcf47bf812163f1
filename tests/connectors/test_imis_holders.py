"""Many organisations on one server: an iMIS token is one organisation's, for one stored
password (issue 14, finding 1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mailfiler import accounts
from mailfiler.api.app import create_app
from mailfiler.connectors.imis.client import (
    REFUSAL_MEMORY,
    BackgroundAccountRefused,
    Holder,
    ImisClient,
)
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.connectors.imis.site_address import SitePolicy
from mailfiler.core.message import Message
from mailfiler.errors import ConnectorUnavailable
from mailfiler.service import Service
from tests.conftest import Org, status_of
from tests.imis_site import MANAGER_PASSWORD, PASSWORDS, Site, new_imis_org, recorded_pauses
from tests.imis_standin import Party


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with recorded_pauses():
        yield


def only_at_the_victims(org: Org, n: int = 1) -> Message:
    return org.service.read(
        b"From: only@victim.example\r\nTo: jdoe@acme.example\r\nSubject: private " + str(n).encode()
        + b"\r\nMessage-ID: <private-" + str(n).encode() + b"@victim.example>\r\n\r\nHello.\r\n"
    )  # fmt: skip


def test_an_organisation_at_anothers_site_with_a_wrong_password_reads_and_writes_nothing(
    service: Service, site: Site
) -> None:
    site.standin.parties["777"] = Party("777", "Only At The Victim's", ["only@victim.example"])
    victim = new_imis_org(service, site)
    victim.user = "admin"
    assert status_of(victim.file(only_at_the_victims(victim)), "only@victim.example") == "saved"
    assert site.standin.token_requests == ["MANAGER"]
    seen, written = len(site.standin.requests), len(site.standin.interactions)

    # Another organisation on this server, pointed at the victim's site, the same account
    # name, a wrong password: refused, and the victim's token is none of its business.
    intruder = new_imis_org(service, site, password="not-the-victims-password")
    intruder.user = "admin"
    for n in range(5):
        with pytest.raises(ConnectorUnavailable, match="refused mailfiler's background account"):
            intruder.file(only_at_the_victims(intruder, 10 + n))
    assert site.standin.token_requests == ["MANAGER"] * 2  # one failed login for five tries
    assert len(site.standin.requests) == seen  # it read nothing there
    assert len(site.standin.interactions) == written  # and wrote nothing

    # The victim goes on with the token it had: not evicted, no new sign-in.
    again = victim.file(only_at_the_victims(victim, 2))
    assert status_of(again, "only@victim.example") == "saved"
    assert site.standin.token_requests == ["MANAGER"] * 2

    # Setting the password again forgets the refusal at once (and only then is it tried).
    with service.unit() as session:
        accounts.set_crm(session, intruder.cloud_id, background_password="still-not-it")
    with pytest.raises(ConnectorUnavailable, match="refused mailfiler's background account"):
        intruder.file(only_at_the_victims(intruder, 20))
    assert site.standin.token_requests == ["MANAGER"] * 3


def test_a_refused_password_is_tried_again_once_per_refusal_memory(site: Site) -> None:
    moment = [1000.0]
    refused = ImisClient(
        site.url, "MANAGER", lambda: "wrong", ImisMapping(), holder=Holder("1:ACME", "one"),
        policy=SitePolicy(allow_local=True), now=lambda: moment[0],
    )  # fmt: skip
    for _ in range(3):
        with pytest.raises(BackgroundAccountRefused):
            refused.get("/api/Party/101")
    assert site.standin.token_requests == ["MANAGER"]
    moment[0] += REFUSAL_MEMORY - 1
    with pytest.raises(BackgroundAccountRefused):
        refused.get("/api/Party/101")
    assert site.standin.token_requests == ["MANAGER"]
    moment[0] += 2  # the memory has passed: one more try
    with pytest.raises(BackgroundAccountRefused):
        refused.get("/api/Party/101")
    assert site.standin.token_requests == ["MANAGER"] * 2


def test_tokens_are_kept_per_organisation_and_stored_password(site: Site) -> None:
    def client(holder: Holder, password: str = MANAGER_PASSWORD) -> ImisClient:
        return ImisClient(
            site.url, "MANAGER", lambda: password, ImisMapping(), holder=holder,
            policy=SitePolicy(allow_local=True),
        )  # fmt: skip

    first, second = client(Holder("1:ONE", "a")), client(Holder("2:TWO", "b"))
    for _ in range(2):
        assert first.get("/api/Party/101")["PartyId"] == "101"
        assert second.get("/api/Party/101")["PartyId"] == "101"
    assert site.standin.token_requests == ["MANAGER"] * 2  # one each, reused
    with pytest.raises(BackgroundAccountRefused):
        client(Holder("3:THREE", "c"), "wrong").get("/api/Party/101")
    assert first.get("/api/Party/101") and second.get("/api/Party/101")
    assert site.standin.token_requests == ["MANAGER"] * 3  # neither lost its token
    # The same organisation with its password set again: a token of its own, the old one
    # forgotten.
    client(Holder("1:ONE", "a-again")).get("/api/Party/101")
    assert site.standin.token_requests == ["MANAGER"] * 4


def test_users_of_an_organisation_refused_at_a_site_never_send_their_passwords_there(
    service: Service, site: Site
) -> None:
    intruder = new_imis_org(service, site, password="not-the-victims-password")
    with TestClient(create_app(service.settings, service)) as client:
        answer = client.post(
            "/api/v1/session",
            json={"cloud_id": intruder.cloud_id, "username": "jdoe",
                  "password": PASSWORDS["jdoe"]},
        )  # fmt: skip
    assert answer.status_code == 503
    # Only the background account was tried (and refused): jdoe's password never went.
    assert site.standin.token_requests == ["MANAGER"]
