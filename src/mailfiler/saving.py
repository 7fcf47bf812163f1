"""The one save path, after planning: reserve in the ledger -> write to the CRM -> record.

Every entry point (the CLI, the API, the task pane) saves through here, with
the same answers: a record written is "saved" with the CRM's ID; one another
save of the same message holds is "duplicate" with that save's ID; one the
CRM did not take is "failed" with the reason, and saving the message again
writes it (and only it). The CRM is written outside any transaction of
mailfiler's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mailfiler.accounts import Tenant
from mailfiler.clock import Clock
from mailfiler.connectors.base import Connector, Failed, Saved, Unsure, WriteOutcome
from mailfiler.core.plan import UNSURE_BEFORE, FileOutcome, ParticipantOutcome, SavePlan
from mailfiler.errors import MailfilerError
from mailfiler.storage import ledger


def carry_out(
    units: ledger.Units, tenant: Tenant, crm: Connector, decided: SavePlan, clock: Clock
) -> SavePlan:
    """Write what ``decided`` plans, and say how each record turned out."""
    if not decided.records:
        return decided
    first = decided.records[0]
    wanted = [
        ledger.Wanted(r.contact_id, r.kind, r.message_key, r.subject, r.another_copy)
        for r in decided.records
    ]
    reserved, taken = ledger.reserve(units, tenant.id, first.saved_by, wanted, clock())
    copies = {r.contact_id: r for r in reserved}
    to_write = [
        replace(record, copy=copies[record.contact_id].copy)
        for record in decided.records
        if record.contact_id in copies
    ]
    written: dict[str, WriteOutcome] = {}
    try:
        try:
            outcomes = crm.write(to_write) if to_write else []
        except MailfilerError as error:  # the CRM could not be written at all: say why
            outcomes = [Failed(str(error)) for _ in to_write]
        written = dict(zip((r.contact_id for r in to_write), outcomes, strict=True))
    finally:
        # Settled whatever happened: an entry whose record was not written is
        # removed, so that the next save writes it.
        with units() as session:
            ledger.settle(
                session,
                tenant.id,
                first.kind,
                first.message_key,
                [(copies[r.contact_id], _settled(written.get(r.contact_id))) for r in to_write],
                clock(),
            )
    return turned_out(decided, written, {t.contact_id: t.record_id for t in taken})


def _settled(outcome: WriteOutcome | None) -> ledger.Settled:
    if isinstance(outcome, Saved):
        return ("saved", outcome.record_id)
    if isinstance(outcome, Unsure):
        return ("unsure", "")
    return None


def turned_out(
    decided: SavePlan, written: Mapping[str, WriteOutcome], taken: Mapping[str, str | None]
) -> SavePlan:
    """The plan as it turned out: each record saved, held by another save, or failed."""

    def one(p: ParticipantOutcome) -> ParticipantOutcome:
        if p.status != "would_save" or p.contact_id is None:
            return p
        outcome = written.get(p.contact_id)
        if isinstance(outcome, Saved):
            reason = f"{p.reason}; {outcome.note}" if outcome.note else p.reason
            return replace(p, status="saved", record_id=outcome.record_id, reason=reason)
        if isinstance(outcome, Failed):
            return replace(p, status="failed", reason=f"not saved: {outcome.reason}")
        if isinstance(outcome, Unsure):
            return replace(p, status="failed", reason=f"perhaps saved: {outcome.reason}")
        record_id = taken.get(p.contact_id)
        if record_id == "":
            reason = UNSURE_BEFORE
            record_id = None
        elif record_id is None:
            reason = "another save of this message is writing this record right now"
        else:
            reason = f"this message is already saved as {decided.kind} {record_id} for this contact"
        return replace(p, status="duplicate", record_id=record_id, reason=reason)

    people = tuple(one(p) for p in decided.participants)
    if not any(p.status == "saved" for p in people):
        return replace(decided, participants=people)
    return replace(
        decided,
        participants=people,
        files=tuple(_file_saved(f) for f in decided.files),
        eml=_file_saved(decided.eml) if decided.eml else None,
    )


def _file_saved(outcome: FileOutcome) -> FileOutcome:
    return replace(outcome, status="saved") if outcome.status == "would_save" else outcome
