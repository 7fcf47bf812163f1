"""An iMIS organisation for the tests: the stand-in site on a loopback port, seeded, and an
organisation of mailfiler's set to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mailfiler import accounts
from mailfiler.connectors import registry
from mailfiler.connectors.imis.client import forget_tokens
from mailfiler.service import Service
from tests.conftest import Org, fixture_contacts, serving
from tests.imis_standin import Party, StandIn, User

SECRET_KEY = "a-test-key-that-is-long-enough"
MANAGER_PASSWORD = "manager-secret"
PASSWORDS = {"jdoe": "jdoe-imis-password", "admin": "admin-imis-password"}

os.environ.setdefault("MAILFILER_SECRET_KEY", SECRET_KEY)


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
    return standin


@contextmanager
def imis_site() -> Iterator[Site]:
    standin = seeded()
    forget_tokens()  # each site starts with no token in this process
    with serving(standin.app()) as url:
        yield Site(standin, url)


def new_imis_org(service: Service, site: Site, edition: str = "enterprise") -> Org:
    cloud_id = "I" + uuid.uuid4().hex[:10].upper()
    with service.unit() as session:
        accounts.create_organisation(
            session, cloud_id, "Acme on iMIS", "MANAGER", edition, crm="imis",
            crm_url=site.url, background_password=MANAGER_PASSWORD,
            activity_types=registry.starting_activity_types("imis"),
        )  # fmt: skip
    return Org(service, cloud_id)
