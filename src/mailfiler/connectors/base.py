"""The one protocol every CRM connector implements, and what it answers with.

A connector is bound to one organisation. It finds and creates contacts,
lists the activity types the CRM offers, and writes planned records exactly
as ``core.plan`` decided them; it decides nothing the user has not been
shown. It knows nothing of mailfiler's own database: whether a message was
filed before is the filing ledger's business (``storage.ledger``), and a
write happens outside any open transaction of mailfiler's.

What was filed, for whom and when, the ledger says for every CRM; a CRM that
can show a filed record's detail itself (the built-in one: its body, fields and
files) also offers a ``RecordDetail``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from mailfiler.core.match import Contact
from mailfiler.core.options import ActivityType
from mailfiler.core.plan import Capabilities, PlannedRecord
from mailfiler.core.rules import Kind

__all__ = [
    "Capabilities",
    "Connector",
    "ContactImport",
    "ContactRow",
    "Failed",
    "Found",
    "Landed",
    "MissingFile",
    "NotWritten",
    "RecordDetail",
    "RemoteUser",
    "Saved",
    "Sending",
    "StillUnknown",
    "StoredFile",
    "StoredRecord",
    "Unsure",
    "UserAccess",
    "WriteOutcome",
    "Written",
]


@dataclass(frozen=True)
class ContactRow:
    """A contact as a CSV import gives it (``mailfiler contacts import``)."""

    contact_id: str
    full_name: str
    emails: tuple[str, ...]
    organization: str = ""


@dataclass(frozen=True)
class MissingFile:
    """A file of a written record that did not land in the CRM, and why."""

    name: str  # as it was to be saved (``PlannedFile.filename``)
    reason: str


@dataclass(frozen=True)
class Saved:
    """The record was written; the CRM's ID for it, and the files that did not go with it."""

    record_id: str
    missing: tuple[MissingFile, ...] = ()  # any: the record is "partial"


@dataclass(frozen=True)
class Failed:
    """The record was not written, and why, in a sentence for the user."""

    reason: str


@dataclass(frozen=True)
class Unsure:
    """The CRM never answered: the record may have been written. It is not sent again."""

    reason: str
    # The files that were not sent at all, should the record turn out to have landed
    # (a CRM that sends files after the record never sent them).
    unsent: tuple[str, ...] = ()


WriteOutcome = Saved | Failed | Unsure


@dataclass(frozen=True)
class Written:
    """A record whose write was never answered (or whose writer died), as the ledger knows
    it: what to look for in the CRM."""

    kind: Kind
    contact_id: str
    subject: str
    activity_type: str | None
    sent_at: datetime  # when it left for the CRM
    now: datetime
    activity_date: str | None = None  # an Activity's date as sent (ISO), where it had one


@dataclass(frozen=True)
class Landed:
    """The CRM holds it: its key there, and the names of the files it holds with it (None:
    the CRM does not say)."""

    record_id: str
    files: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NotWritten:
    """The CRM surely does not hold it: it may be written again."""


@dataclass(frozen=True)
class StillUnknown:
    """The CRM cannot tell yet, or holds several records it could be; why."""

    reason: str


Found = Landed | NotWritten | StillUnknown
# Told of each record just before it is sent (``Connector.write``); answers None (send
# it), or why it must not be sent: the connector then answers ``Failed`` with that reason.
Sending = Callable[[PlannedRecord], str | None]


@dataclass(frozen=True)
class RemoteUser:
    """A user the CRM signed in (iMIS checks the password): who they are there."""

    username: str
    email: str
    roles: tuple[str, ...]
    access: UserAccess  # their own token, for searching as them
    access_expires_at: datetime


@dataclass(frozen=True)
class UserAccess:
    """The signed-in user's own access to the CRM, where it has one (an iMIS token):
    searches run under their permissions, not the background account's."""

    token: str
    site: str = ""  # the CRM's address the token is for: never sent to another


class Connector(Protocol):
    """A CRM, for one organisation."""

    @property
    def capabilities(self) -> Capabilities: ...

    def find_contacts(self, addresses: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        """Every contact holding each address (given as written on the message), by the
        address's key (``core.addresses.address_key``)."""
        ...

    def search(
        self, query: str, *, limit: int = 20, as_user: UserAccess | None = None
    ) -> list[Contact]:
        """Contacts whose name, address, organisation or ID matches the query."""
        ...

    def contact(self, contact_id: str) -> Contact:
        """One contact with all its addresses; ``NotFound`` when there is none."""
        ...

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> Contact:
        """A new contact, numbered by the CRM."""
        ...

    def activity_types(self) -> list[ActivityType]:
        """The activity types the CRM has, with the labels of their fields."""
        ...

    def look_for(self, written: Written) -> Found:
        """Whether the CRM holds a record whose write was never answered."""
        ...

    def write(
        self, records: Sequence[PlannedRecord], sending: Sending = lambda record: None
    ) -> list[WriteOutcome]:
        """Write the records (one per contact), in order; one outcome per record.

        ``sending(record)`` is called just before a record leaves for the CRM, so that
        a save that dies part way knows which records the CRM may hold; a record it
        answers a reason for is not sent (``Failed`` with that reason).

        A CRM that fails part way answers ``Failed`` for each record it did
        not write and ``Saved`` for the others: the caller records exactly that.
        A record with ``existing_record_id`` exists already: only its ``files``
        are sent, and the answer is ``Saved`` with that ID (and what is still missing).
        """
        ...


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    size: int
    sha256: str
    content_type: str
    content_id: str | None


@dataclass(frozen=True)
class StoredRecord:
    kind: Kind
    id: str
    contact_id: str
    subject: str
    to_line: str | None
    body: str
    activity_type: str | None
    fields: Mapping[str, Any]
    created_by: str
    saved_by: str
    message_id: str | None
    message_key: str
    saved_at: datetime
    attachments: tuple[StoredFile, ...]
    link: str | None = None  # where the record opens in the CRM, when it is elsewhere
    sender: str = ""  # the message's, as its reader saw them
    recipients: str = ""
    sent_at: datetime | None = None
    # Files that did not land with it (the record is "partial"): (name, why)
    missing_files: tuple[tuple[str, str], ...] = ()
    # Its body, fields and files are here (the CRM shows them to mailfiler); False: only
    # what the ledger knows, the record itself in the CRM (``link``).
    shown_here: bool = True

    @property
    def status(self) -> Literal["saved", "partial"]:
        return "partial" if self.missing_files else "saved"


class ContactImport(Protocol):
    """A CRM whose contacts mailfiler can load from a file (the built-in one)."""

    def upsert_contacts(
        self, rows: Iterable[ContactRow], progress: Callable[[int], None] = ...
    ) -> tuple[int, int]:
        """Add or update contacts by ID; (added, updated)."""
        ...


class RecordDetail(Protocol):
    """The detail of records the ledger says were filed, from the CRM that holds them."""

    def details(self, kind: Kind, record_ids: Collection[str]) -> Mapping[str, StoredRecord]:
        """Record ID -> the record, of those given that the CRM still holds."""
        ...

    def attachment(self, attachment_id: str) -> tuple[StoredFile, bytes]: ...
