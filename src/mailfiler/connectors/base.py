"""The one protocol every CRM connector implements.

A connector is bound to one organisation and one unit of work. It looks
contacts up and carries out a ``SavePlan`` exactly as planned; it decides
nothing the user has not been shown (``core.plan`` did the deciding).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mailfiler.core.match import Contact
from mailfiler.core.plan import Kind, SavePlan


@dataclass(frozen=True)
class Capabilities:
    """What a CRM can take, so the plan and the UI can say so before a save fails."""

    activities: bool = True
    activity_attachments: bool = True
    interaction_date: bool = True  # iMIS stamps its own write time on interactions


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


@dataclass(frozen=True)
class Lookup:
    """Who holds each address, and which of them have the message filed already."""

    contacts: Mapping[str, Sequence[Contact]]  # address key -> every contact holding it
    filed: Mapping[str, str]  # contact ID -> the record the message was filed as


class Connector(Protocol):
    capabilities: Capabilities

    def contacts_by_address(self, keys: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        """Every contact holding each address key (see ``core.addresses.address_key``)."""
        ...

    def look_up(self, keys: Collection[str], kind: Kind, message_key: str) -> Lookup:
        """``contacts_by_address`` and, for the contacts found, ``already_filed``: the two
        questions every message read asks, in one go where the CRM allows."""
        ...

    def search(self, query: str, limit: int = 20) -> list[Contact]:
        """Contacts whose name, address or ID contains the query."""
        ...

    def contact(self, contact_id: str) -> Contact:
        """One contact with all its addresses; ``NotFound`` when there is none."""
        ...

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = "",
        contact_id: str | None = None,
    ) -> Contact:  # fmt: skip
        ...

    def already_filed(
        self, kind: Kind, message_key: str, contact_ids: Collection[str]
    ) -> dict[str, str]:
        """Contact ID -> ID of the record this message was already filed as, for those filed."""
        ...

    def apply(self, plan: SavePlan) -> dict[str, str]:
        """Write every record of the plan; contact ID -> new record ID. Never commits."""
        ...
