"""What mailfiler filed for a contact, in whichever CRM: read from the filing ledger.

The ledger is the one index of what was filed (kind, subject, who saved it and
when, the CRM's record ID, the files that did not land). A CRM that shows a
record's detail itself (the built-in one) is asked only for that detail, for
the records on the page; the others' records are linked to their page in the
CRM (the organisation's link template).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

from mailfiler.connectors.base import RecordDetail, StoredFile, StoredRecord
from mailfiler.connectors.plugin import Units
from mailfiler.core.organisation import Tenant
from mailfiler.core.rules import Kind
from mailfiler.errors import NotFound
from mailfiler.storage import ledger
from mailfiler.storage.tables import FilingEntry

# A listing without a limit (the records command) shows at most this many.
LONGEST_LISTING = 1000


class FiledRecords:
    def __init__(
        self,
        units: Units,
        tenant: Tenant,
        link: Callable[[str, str], str | None],
        detail: RecordDetail | None = None,
    ) -> None:
        """``link(contact_id, record_id)``: where the record opens in the CRM;
        ``detail``: the CRM's own account of its records, where it gives one."""
        self.units = units
        self.tenant = tenant
        self.link = link
        self.detail = detail

    def records(
        self,
        contact_id: str | None = None,
        kinds: Collection[Kind] = ("interaction", "activity"),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredRecord]:
        """What was filed (for one contact, or for all), newest first."""
        with self.units(reading=True) as session:
            entries = ledger.for_contact(
                session, self.tenant.id, contact_id, kinds, limit or LONGEST_LISTING, offset
            )
            summaries = [self._summary(e) for e in entries]
        details = self._details(summaries)
        return [_with_detail(s, details.get((s.kind, s.id))) for s in summaries]

    def count_records(self, contact_id: str | None = None) -> int:
        with self.units(reading=True) as session:
            return ledger.count_for_contact(session, self.tenant.id, contact_id)

    def attachment(self, attachment_id: str) -> tuple[StoredFile, bytes]:
        if self.detail is None:
            raise NotFound(f"the files of {self.tenant.crm} records are in {self.tenant.crm}")
        return self.detail.attachment(attachment_id)

    def _details(
        self, summaries: Collection[StoredRecord]
    ) -> Mapping[tuple[Kind, str], StoredRecord]:
        """The CRM's detail of the records listed, asked once per kind (outside any unit of
        work of mailfiler's: the CRM keeps its own)."""
        if self.detail is None:
            return {}
        wanted: dict[Kind, list[str]] = defaultdict(list)
        for summary in summaries:
            if summary.id:
                wanted[summary.kind].append(summary.id)
        return {
            (kind, record_id): record
            for kind, ids in wanted.items()
            for record_id, record in self.detail.details(kind, ids).items()
        }

    def _summary(self, entry: FilingEntry) -> StoredRecord:
        """What the ledger knows of a record."""
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
            shown_here=False,
            missing_files=tuple((f["name"], f["reason"]) for f in entry.missing_files or ()),
        )


def _with_detail(summary: StoredRecord, detail: StoredRecord | None) -> StoredRecord:
    """The CRM's account of the record where it gives one, with what only the ledger knows
    (the files that did not land); else the ledger's."""
    if detail is None:
        return summary
    return replace(detail, missing_files=summary.missing_files, link=summary.link)
