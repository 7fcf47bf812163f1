"""Shared test set-up: the corpus, both databases, and an organisation with contacts.

Storage tests run against SQLite and against the PostgreSQL server on
127.0.0.1:5432. Where PostgreSQL or ../shared/corpus is missing, the tests
that need them skip with the reason, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from argon2 import PasswordHasher

from mailfiler import accounts
from mailfiler.config import Settings
from mailfiler.connectors.base import ContactRow, StoredRecord
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.core.message import Message
from mailfiler.core.plan import Choices, SavePlan
from mailfiler.service import Service
from mailfiler.service.contacts_csv import read_contacts

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get("MAILFILER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where everything must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)


def corpus_path() -> Path:
    if not CORPUS.is_dir():
        missing(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def corpus() -> Path:
    return corpus_path()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- databases ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'mailfiler-test.db'}"


@contextmanager
def new_postgresql_database(prefix: str = "mailfiler_test") -> Iterator[str]:
    """The URL of a database of its own on the PostgreSQL server, dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    with new_postgresql_database() as url:
        try:
            yield url
        finally:
            service = _SERVICES.pop(url, None)
            if service is not None:
                service.close()


_SERVICES: dict[str, Service] = {}


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> None:
    # Argon2's defaults cost ~170 ms a hash here, by design; tests need many.
    accounts.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session", autouse=True)
def _dispose_services() -> Iterator[None]:
    yield
    for service in _SERVICES.values():
        service.close()


def service_for(url: str, blobs: Path) -> Service:
    """One migrated service per database for the whole session (migrating is the slow part)."""
    if url not in _SERVICES:
        # The stand-in iMIS sites listen on http://127.0.0.1: allowed, for the tests only.
        service = Service(Settings(database_url=url, blobs_dir=blobs, allow_local_crm=True))
        service.migrate()
        _SERVICES[url] = service
    return _SERVICES[url]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Service:
    blobs = tmp_path_factory.getbasetemp() / f"blobs-{abs(hash(database_url))}"
    return service_for(database_url, blobs)


# -- an organisation ------------------------------------------------------------------------


@dataclass
class Org:
    """A fresh organisation with the fixture contacts, and helpers to file into it."""

    service: Service
    cloud_id: str
    user: str = "jdoe"

    def read(self, name: str) -> Message:
        return self.service.read(fixture_bytes(name))

    def file(self, message: Message | str, user: str | None = None, **choices: Any) -> SavePlan:
        if isinstance(message, str):
            message = self.read(message)
        return self.service.file(self.cloud_id, user or self.user, message, Choices(**choices))

    def inspect(self, message: Message | str, **choices: Any) -> SavePlan:
        if isinstance(message, str):
            message = self.read(message)
        return self.service.inspect(self.cloud_id, self.user, message, Choices(**choices))

    def records(self, contact_id: str | None = None) -> list[StoredRecord]:
        return self.service.run(self.cloud_id, None, lambda c: c.records.records(contact_id))

    def set_options(self, **changes: Any) -> None:
        with self.service.unit() as session:
            tenant = accounts.tenant(session, self.cloud_id)
            accounts.set_options(session, self.cloud_id, replace(tenant.options, **changes))


def new_org(service: Service, edition: str = "enterprise", with_contacts: bool = True) -> Org:
    cloud_id = "T" + uuid.uuid4().hex[:10].upper()
    with service.unit() as session:
        tenant = accounts.create_organisation(session, cloud_id, "Test Org", "MANAGER", edition)
        accounts.add_user(session, tenant, "jdoe", "jdoe@acme.example", ["Staff"], "jdoe-password")
        accounts.add_user(
            session, tenant, "admin", "admin@acme.example", ["SysAdmin"], "admin-pass"
        )
        if with_contacts:
            BuiltinCRM(session, tenant.id, service.blobs).upsert_contacts(fixture_contacts())
    return Org(service, cloud_id)


def fixture_contacts() -> list[ContactRow]:
    rows, problems = read_contacts((FIXTURES / "contacts.csv").read_text(encoding="utf-8"))
    assert not problems, problems
    return rows


@pytest.fixture
def org(service: Service) -> Org:
    return new_org(service)


def status_of(outcome: SavePlan, address: str, line: str | None = None) -> str:
    for p in outcome.participants:
        if p.address.lower() == address.lower() and (line is None or p.line == line):
            return p.status
    raise AssertionError(f"{address} is not a participant")


# -- a real server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app on a real port (uvicorn, in a thread of this process): its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def site() -> Iterator[Any]:
    """The stand-in iMIS site (tests/imis_standin.py), seeded, on a loopback port."""
    from tests.imis_site import imis_site

    with imis_site() as running:
        yield running
