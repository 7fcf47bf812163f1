"""A CRM as one plug-in, one small named object: what mailfiler needs to know of a CRM to file
into it, and nothing of any CRM in particular (each is in its own folder: ``builtin/plugin.py``,
``imis/plugin.py``). ``registry`` holds the table of them.

A plug-in says its name and how to connect to an organisation's CRM; and, where the CRM has
them, how its users sign in (the CRM checks their passwords), how its contacts are
imported, the activity types an organisation starts with, where a filed record opens,
and its settings: where the CRM is (an address, a background account) and how they are
checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session

from mailfiler.clock import Clock
from mailfiler.connectors.base import Connector, ContactImport, RecordDetail, RemoteUser
from mailfiler.core.options import ActivityType
from mailfiler.core.organisation import Tenant


class Blobs(Protocol):
    """Where file contents are kept, by their SHA-256 (the installation's blob store: a
    folder, or mailfiler's database), written in the unit of work of what points at them."""

    def put(self, session: Session, data: bytes, sha256: str | None = None) -> str: ...

    def get(self, session: Session, sha256: str) -> bytes | None: ...  # None: missing


# Short units of work of mailfiler's database (``Service.unit``): ``units()`` or
# ``units(reading=True)``, a session committed when the block ends.
Units = Callable[..., AbstractContextManager[Session]]


class StoredPassword(NamedTuple):
    """A CRM password as the installation keeps it: with the address and account it was
    set for (None for one kept before they were), so it is sent nowhere else."""

    url: str | None
    account: str | None
    password: str


def _no_password(stored: str) -> StoredPassword:
    raise ValueError("this installation keeps no CRM passwords")


@dataclass(frozen=True)
class Needs:
    """What a connector may need from the installation: the built-in CRM keeps its contacts
    and records in mailfiler's database, each call in a short unit of its own; a CRM
    elsewhere has its background password opened by the installation's keys."""

    units: Units
    blobs: Blobs
    clock: Clock
    # The installation allows CRM sites at loopback, private and link-local addresses
    # (Settings.allow_local_crm: the tests' stand-in sites).
    allow_local_crm: bool = False
    # The stored (sealed) background password, opened; ConnectorUnavailable when the
    # installation's keys cannot open it.
    open_password: Callable[[str], StoredPassword] = _no_password


# A user's password checked by the CRM: who they are there, or None when it is wrong.
UserCheck = Callable[[str, str], RemoteUser | None]
# Where a filed record opens in the CRM: (contact ID, record ID) -> an address, or None.
RecordLink = Callable[[str, str], str | None]


class SetUpLine(Protocol):
    @property
    def what(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def says(self) -> str: ...
    @property
    def detail(self) -> str: ...


class SiteFacts(Protocol):
    @property
    def site(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


class SetUpCheck(Protocol):
    """What a CRM's set-up check found, line by line, and learnt of its site."""

    @property
    def lines(self) -> Sequence[SetUpLine]: ...
    @property
    def facts(self) -> SiteFacts: ...
    @property
    def ok(self) -> bool: ...

    def public(self) -> dict[str, Any]: ...

    def facts_to_store(self, stored: Mapping[str, Any] | None) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class RemoteSettings:
    """A CRM elsewhere: an address, a background account and its password, a mapping."""

    accept_site: Callable[[str, bool], str]  # (address, allow local) -> as kept; BadRequest
    same_site: Callable[[Tenant, str], bool]  # is this the address the organisation has?
    check_mapping: Callable[[Tenant, Mapping[str, Any]], dict[str, Any]]
    set_up_check: Callable[[Tenant, Needs], SetUpCheck]


@dataclass(frozen=True)
class CrmPlugin:
    name: str  # as organisations are set to it ("builtin", "imis")
    label: str  # in the sentences people read ("the built-in CRM", "iMIS")
    connect: Callable[[Tenant, Needs], Connector]
    # The CRM shows a filed record's detail itself (the built-in one); None: the staff
    # site shows what the ledger knows of it, and links it to the CRM (``record_link``).
    details: Callable[[Tenant, Needs], RecordDetail] | None = None
    record_link: Callable[[Tenant], RecordLink] | None = None
    # Its users sign in there (the CRM checks their passwords, says their roles).
    sign_in: Callable[[Tenant, Needs], UserCheck] | None = None
    describe_user: Callable[[Tenant, str, Needs], RemoteUser | None] | None = None
    contacts: Callable[[Tenant, Needs], ContactImport] | None = None  # imported from a file
    starting_activity_types: tuple[ActivityType, ...] | None = None  # None: the default
    remote: RemoteSettings | None = None  # where it is, and how that is checked
