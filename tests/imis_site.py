"""An iMIS organisation for the tests: the stand-in site on a loopback port, seeded, and an
organisation of mailfiler's set to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from mailfiler import accounts
from mailfiler.connectors import patience, registry
from mailfiler.connectors.imis.client import forget_tokens
from mailfiler.service import Service
from tests.conftest import Org, fixture_contacts, serving
from tests.imis_standin import Party, StandIn, User, contact_search

SECRET_KEY = "a-test-key-that-is-long-enough"
MANAGER_PASSWORD = "manager-secret"
PASSWORDS = {"jdoe": "jdoe-imis-password", "admin": "admin-imis-password"}
SEARCH_QUERY = "$/Web Service Queries/ContactSearch"

os.environ.setdefault("MAILFILER_SECRET_KEY", SECRET_KEY)
# The stand-in sites listen on http://127.0.0.1: the command line (which reads its settings
# from the environment) may call them, as the tests' services may (tests/conftest.py).
os.environ.setdefault("MAILFILER_ALLOW_LOCAL_CRM", "1")


@dataclass
class Site:
    standin: StandIn
    url: str


def seeded() -> StandIn:
    standin = StandIn()
    for row in fixture_contacts():
        standin.parties[row.contact_id] = Party(
            row.contact_id, row.full_name, list(row.emails), row.organization
        )
    # The staff's own parties: a user's address is their party's.
    standin.parties["201"] = Party("201", "Jane Doe", ["jdoe@acme.example"], "Acme")
    standin.parties["202"] = Party("202", "Ada Admin", ["admin@acme.example"], "Acme")
    standin.users = {
        "manager": User(MANAGER_PASSWORD, ["SysAdmin"]),
        "jdoe": User(PASSWORDS["jdoe"], ["Staff"], "201", "jdoe@acme.example"),
        "admin": User(PASSWORDS["admin"], ["SysAdmin", "Staff"], "202", "admin@acme.example"),
    }
    standin.activity_types = [
        {"ActivityTypeId": "EMAIL", "Description": "Email", "NotePrompt": "Message",
         "Uf1Prompt": "Other participants"},
        {"ActivityTypeId": "CALL", "Description": "Phone call", "NotePrompt": "Notes"},
        {"ActivityTypeId": "DUES", "Description": "Dues payment"},
    ]  # fmt: skip
    # The contact search an administrator gives (no query path exists on every site), with
    # the columns ASI's Outlook Integration guide asks for.
    standin.queries[SEARCH_QUERY] = contact_search()
    # A site whose address filter sees every address of a party (whether iMIS's does is
    # unknown: tests of the other case switch this off and use FindByEmail).
    standin.email_filter_primary_only = False
    # The site's clock is on UTC, as the organisations' site_time_zone says by default
    # (whatever the zone of the machine running the tests).
    standin.clock = lambda: datetime.now(UTC).replace(tzinfo=None)
    return standin


@contextmanager
def imis_site() -> Iterator[Site]:
    standin = seeded()
    forget_tokens()  # each site starts with no token in this process
    with serving(standin.app()) as url:
        try:
            yield Site(standin, url)
        finally:
            standin.release_writes = True  # a write a test held never keeps the site up


def new_imis_org(
    service: Service, site: Site, edition: str = "enterprise", password: str = MANAGER_PASSWORD
) -> Org:
    cloud_id = "I" + uuid.uuid4().hex[:10].upper()
    with service.unit() as session:
        accounts.create_organisation(
            session, cloud_id, "Acme on iMIS", "MANAGER", edition, crm="imis", remote=True,
            crm_url=site.url, background_password=password,
            activity_types=registry.plugin("imis").starting_activity_types,
        )  # fmt: skip
        accounts.set_crm(session, cloud_id, mapping={"search_query": SEARCH_QUERY})
    return Org(service, cloud_id)


def set_site(org: Org, url: str, password: str = MANAGER_PASSWORD) -> None:
    """Point the organisation at another address, with the password that goes with it."""
    with org.service.unit() as session:
        accounts.set_crm(session, org.cloud_id, url=url, background_password=password)


@contextmanager
def recorded_pauses() -> Iterator[list[float]]:
    """The pauses mailfiler makes for iMIS, recorded instead of waited: no test waits for a
    Retry-After or a back-off in real time."""
    pauses: list[float] = []
    token = patience.sleeping.set(pauses.append)
    try:
        yield pauses
    finally:
        patience.sleeping.reset(token)
