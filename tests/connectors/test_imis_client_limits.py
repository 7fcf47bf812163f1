"""What an iMIS site or an Options admin says cannot break the client: a token's lifetime no
clock holds, password after password guessed at a site, a mapping stored before its checks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from sqlalchemy import select

from mailfiler import accounts
from mailfiler.connectors import registry
from mailfiler.connectors.imis.client import (
    LONGEST_TOKEN,
    MOST_REFUSED_PASSWORDS,
    TOKEN_LIFETIME,
    _token_from,
)
from mailfiler.errors import ConnectorUnavailable
from mailfiler.service import Service
from mailfiler.storage.tables import Organisation
from tests.conftest import status_of
from tests.imis_site import Site, new_imis_org, recorded_pauses, set_site


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with recorded_pauses():
        yield


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(1e300, LONGEST_TOKEN), ("inf", LONGEST_TOKEN), ("nan", TOKEN_LIFETIME),
     (-5, TOKEN_LIFETIME), ("soon", TOKEN_LIFETIME), (900, 900)],
)  # fmt: skip
def test_a_token_lasts_what_a_clock_can_hold(expires_in: object, lifetime: float) -> None:
    answer = httpx2.Response(200, json={"access_token": "t", "expires_in": expires_in})
    token = _token_from("https://acme.example", answer, 1000.0)
    assert token is not None and token.expires_at == 1000.0 + lifetime


def test_passwords_guessed_one_after_another_at_a_site_stop_being_tried(
    service: Service, site: Site
) -> None:
    org = new_imis_org(service, site, password="guess-0")
    for n in range(MOST_REFUSED_PASSWORDS + 2):
        set_site(org, site.url, password=f"guess-{n}")  # an admin setting password after password
        with pytest.raises(ConnectorUnavailable, match="refused"):
            org.file("text-only.eml")
    assert site.standin.token_requests.count("MANAGER") == MOST_REFUSED_PASSWORDS


def test_a_mapping_stored_before_its_checks_neither_locks_out_nor_blocks_its_repair(
    service: Service, site: Site
) -> None:
    org = new_imis_org(service, site)
    with service.unit() as session:
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == org.cloud_id)
        ).one()
        row.crm_settings = {**row.crm_settings, "mapping": {
            "timeout_seconds": -5, "interaction_entity": "../../token", "page_size": 50,
        }}  # fmt: skip
    # Still files (the values no longer valid are taken as their defaults, and logged).
    assert status_of(org.file("text-only.eml"), "ann@members.example") == "saved"
    assert len(site.standin.interactions) == 2  # at the entity it should be, not "../../token"
    # One value is changed although others stored are wrong; None puts a default back.
    with service.unit() as session:
        tenant = accounts.tenant(session, org.cloud_id)
    changed = registry.of(tenant).remote.check_mapping(tenant, {"retries": 2, "page_size": None})
    assert changed["retries"] == 2 and changed["page_size"] == 500
    assert changed["interaction_entity"] == "CommunicationLogRecipient"
    assert changed["timeout_seconds"] == 15.0
