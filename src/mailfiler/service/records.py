"""What mailfiler filed for a contact of a remote CRM, read from the filing ledger.

The records themselves are in the CRM (iMIS): the staff site shows what the
ledger knows (kind, subject, who saved it and when, the CRM's record ID) and
links each record to its page in the CRM (the organisation's link template).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from mailfiler.connectors.base import StoredFile, StoredRecord
from mailfiler.connectors.kinds import Units
from mailfiler.core.organisation import Tenant
from mailfiler.core.rules import Kind
from mailfiler.errors import NotFound
from mailfiler.storage import ledger
from mailfiler.storage.tables import FilingEntry


class LedgerRecords:
    def __init__(
        self, units: Units, tenant: Tenant, link: Callable[[str, str], str | None]
    ) -> None:
        """``link(contact_id, record_id)``: where the record opens in the CRM."""
        self.units = units
        self.tenant = tenant
        self.link = link

    def records(
        self,
        contact_id: str | None = None,
        kinds: Collection[Kind] = ("interaction", "activity"),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredRecord]:
        with self.units(reading=True) as session:
            entries = ledger.for_contact(
                session, self.tenant.id, contact_id, kinds, limit or 1000, offset
            )
            return [self._record(e) for e in entries]

    def count_records(self, contact_id: str | None = None) -> int:
        with self.units(reading=True) as session:
            return ledger.count_for_contact(session, self.tenant.id, contact_id)

    def attachment(self, attachment_id: str) -> tuple[StoredFile, bytes]:
        raise NotFound(f"the files of {self.tenant.crm} records are in {self.tenant.crm}")

    def _record(self, entry: FilingEntry) -> StoredRecord:
        kind: Kind = "activity" if entry.kind == "activity" else "interaction"
        assert entry.saved_at is not None  # only written entries are read
        return StoredRecord(
            kind=kind,
            id=entry.record_id or "",
            contact_id=entry.contact_id,
            subject=entry.subject,
            to_line=None,
            body="",
            activity_type=entry.activity_type,
            fields={},
            created_by=self.tenant.background_account,
            saved_by=entry.saved_by,
            message_id=None,
            message_key=entry.message_key,
            saved_at=entry.saved_at,
            attachments=(),
            link=self.link(entry.contact_id, entry.record_id or ""),
            missing_files=tuple((f["name"], f["reason"]) for f in entry.missing_files or ()),
        )
