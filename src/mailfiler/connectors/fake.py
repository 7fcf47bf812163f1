"""A CRM made of plain data and functions, for tests of everything above the protocol.

In the spirit of ``httpx.MockTransport``: the test gives the contacts, and a
function for each write if it wants a write to fail, hang or answer oddly;
the fake keeps what it was asked to write. It holds nothing on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from mailfiler.connectors.base import (
    Connector,
    Failed,
    Found,
    Saved,
    Sending,
    StillUnknown,
    UserAccess,
    WriteOutcome,
    Written,
)
from mailfiler.core.addresses import address_key
from mailfiler.core.match import Contact
from mailfiler.core.options import EMAIL_ACTIVITY, ActivityType
from mailfiler.core.plan import Capabilities, PlannedRecord
from mailfiler.errors import NotFound

Write = Callable[[PlannedRecord], WriteOutcome]


@dataclass
class FakeCRM:
    contacts: list[Contact] = field(default_factory=list)
    write_one: Write | None = None  # None: every record is saved, numbered 1, 2, 3 ...
    capabilities: Capabilities = Capabilities(crm="the fake CRM")  # noqa: RUF009 - frozen
    types: list[ActivityType] = field(default_factory=lambda: [EMAIL_ACTIVITY])
    written: list[PlannedRecord] = field(default_factory=list)
    # What it says of a write never answered (None: it cannot tell).
    finds: Callable[[Written], Found] | None = None
    searches: list[tuple[str, UserAccess | None]] = field(default_factory=list)

    def find_contacts(self, addresses: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        keys = {address_key(a) for a in addresses}
        found: dict[str, list[Contact]] = {}
        for contact in self.contacts:
            for email in contact.emails:
                key = address_key(email)
                if key in keys:
                    found.setdefault(key, []).append(contact)
        return found

    def search(
        self, query: str, *, limit: int = 20, as_user: UserAccess | None = None
    ) -> list[Contact]:
        self.searches.append((query, as_user))
        text = query.strip().lower()
        return [
            c
            for c in self.contacts
            if text in c.full_name.lower() or any(text in e.lower() for e in c.emails)
        ][:limit]

    def contact(self, contact_id: str) -> Contact:
        for contact in self.contacts:
            if contact.id == contact_id:
                return contact
        raise NotFound(f"no contact {contact_id} in the fake CRM")

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> Contact:
        contact = Contact(str(9000 + len(self.contacts)), full_name, organization, tuple(emails))
        self.contacts.append(contact)
        return contact

    def activity_types(self) -> list[ActivityType]:
        return list(self.types)

    def look_for(self, written: Written) -> Found:
        return self.finds(written) if self.finds else StillUnknown("the fake CRM cannot tell")

    def write(
        self, records: Sequence[PlannedRecord], sending: Sending = lambda record: None
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for record in records:
            if stop := sending(record):
                outcomes.append(Failed(stop))
                continue
            outcome = (self.write_one or self._saved)(record)
            if isinstance(outcome, Saved):
                self.written.append(record)
            outcomes.append(outcome)
        return outcomes

    def _saved(self, record: PlannedRecord) -> WriteOutcome:
        if not any(c.id == record.contact_id for c in self.contacts):
            return Failed(f"the fake CRM has no contact {record.contact_id}")
        return Saved(str(len(self.written) + 1))


def as_connector(fake: FakeCRM) -> Connector:
    """The fake, typed as a connector: mypy checks here that it keeps to the protocol."""
    return fake
