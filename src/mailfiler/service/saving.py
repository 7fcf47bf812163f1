"""The one save path, after planning: reserve in the ledger -> write to the CRM -> record.

Every entry point (the CLI, the API, the task pane) saves through here, with
the same answers: a record written is "saved" with the CRM's ID, or
"partial" when some of its files did not land (the next save sends only
those); one another save of the same message holds is "duplicate" with that
save's ID; one the CRM did not take is "failed" with the reason, and saving
the message again writes it (and only it); one the CRM may or may not hold
(it never answered, or the save writing it died) is "unsure", never sent
again until someone settles it. The CRM is written outside any transaction
of mailfiler's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from mailfiler.clock import Clock
from mailfiler.connectors.base import (
    Connector,
    Failed,
    Found,
    Landed,
    NotWritten,
    Saved,
    StillUnknown,
    Unsure,
    WriteOutcome,
    Written,
)
from mailfiler.core.organisation import Tenant
from mailfiler.core.plan import (
    Capabilities,
    FileOutcome,
    ParticipantOutcome,
    PlannedRecord,
    SavePlan,
)
from mailfiler.core.rules import UNSURE_BEFORE, Kind
from mailfiler.errors import ConnectorUnavailable, MailfilerError, SystemFault
from mailfiler.storage import ledger

NOT_ANSWERED = "the save stopped before the CRM answered"
# How long a save waits for another, living, save of the same record to finish.
WAIT_FOR_OTHERS: Final = 20.0  # seconds
HEARTBEAT: Final = 10.0  # seconds between a writer's "still alive"

Units = Callable[..., AbstractContextManager[Session]]
log = logging.getLogger("mailfiler.ledger")
_pause = time.sleep  # while another save writes the same record (tests replace it)


def carry_out(
    units: Units, tenant: Tenant, crm: Connector, decided: SavePlan, clock: Clock
) -> SavePlan:
    """Write what ``decided`` plans, and say how each record turned out."""
    if not decided.records:
        return decided
    first = decided.records[0]
    capabilities = crm.capabilities
    wanted = [
        ledger.Wanted(
            r.contact_id, r.kind, r.message_key, r.subject, r.another_copy,
            completing=r.existing_record_id is not None,
            files=tuple(f.filename for f in r.files), activity_type=r.activity_type,
            activity_date=r.fields.get("TRANSACTION_DATE") or None,
        )
        for r in decided.records
    ]  # fmt: skip
    reserved, taken = reserve(
        units, tenant.id, first.saved_by, wanted, clock(),
        crm=capabilities.crm, rewrite_abandoned=capabilities.rewrite_abandoned,
    )  # fmt: skip
    copies = {r.contact_id: r for r in reserved}
    to_write = [
        replace(
            record, copy=copies[record.contact_id].copy, filing_key=copies[record.contact_id].key
        )
        for record in decided.records
        if record.contact_id in copies
    ]
    written: dict[str, WriteOutcome] = {}
    sent: set[str] = set()

    def sending(record: PlannedRecord) -> str | None:
        """None when the record may leave for the CRM; else why it must not."""
        if not capabilities.rewrite_abandoned:  # (one written again is found: nothing to note)
            try:
                with units() as session:
                    held = ledger.mark_sending(
                        session, tenant.id, record.kind, record.message_key,
                        copies[record.contact_id], clock(),
                    )  # fmt: skip
            except SystemFault as error:
                return f"not sent: mailfiler could not note that it was being sent ({error})"
            if not held:
                return "not sent: another save of this message took this record over"
        sent.add(record.contact_id)
        return None

    try:
        with keep_alive(units, tenant.id, clock):
            try:
                outcomes = crm.write(to_write, sending) if to_write else []
            except MailfilerError as error:  # the connector gave up part way: say why
                outcomes = [_broken_off(r, error, sent, capabilities) for r in to_write]
        written = dict(zip((r.contact_id for r in to_write), outcomes, strict=True))
    finally:
        # Settled whatever happened, so that no entry stays "pending" for a living process:
        # a record sent and never answered may be in the CRM.
        def ended(record: PlannedRecord) -> WriteOutcome | None:
            outcome = written.get(record.contact_id)
            if outcome is None and record.contact_id in sent:
                return None if capabilities.rewrite_abandoned else Unsure(NOT_ANSWERED)
            return outcome

        with units() as session:
            ledger.settle(
                session, tenant.id, first.kind, first.message_key,
                [(copies[r.contact_id], settlement(r, ended(r))) for r in to_write],
                clock(),
            )  # fmt: skip
    return turned_out(decided, written, {t.contact_id: t for t in taken})


def reserve(
    units: Units,
    organisation_id: int,
    saved_by: str,
    wanted: Sequence[ledger.Wanted],
    moment: datetime,
    *,
    crm: str,
    rewrite_abandoned: bool,
) -> tuple[list[ledger.Reserved], list[ledger.Taken]]:
    """Claim a ledger entry for each wanted record, each pass in a short unit of its own;
    what another save holds comes back as ``Taken``. A living writer's entry is waited for
    (``WAIT_FOR_OTHERS``), then said to be pending."""
    reserved: list[ledger.Reserved] = []
    taken: list[ledger.Taken] = []
    waiting = list(wanted)
    deadline = time.monotonic() + WAIT_FOR_OTHERS
    while waiting:
        with units() as session:
            claimed, held, lost = ledger.claim(
                session, organisation_id, saved_by, waiting, moment,
                crm=crm, rewrite_abandoned=rewrite_abandoned,
            )  # fmt: skip
        reserved += claimed
        still: list[ledger.Wanted] = list(lost)  # changed meanwhile: look again
        for want, entry in held:
            if entry.state != ledger.PENDING:
                taken.append(
                    ledger.Taken(want.contact_id, entry.state, entry.record_id, entry.reason or "")
                )
            elif time.monotonic() > deadline:
                taken.append(ledger.Taken(want.contact_id, ledger.PENDING, None))  # alive
            else:
                still.append(want)
        waiting = still
        if waiting:
            _pause(0.05)
    return reserved, taken


@contextmanager
def keep_alive(
    units: Units, organisation_id: int, clock: Callable[[], datetime], every: float = HEARTBEAT
) -> Iterator[None]:
    """While the block runs, say now and then that this process is still writing its pending
    entries (for a save on another machine, which cannot see this process)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                with units() as session:
                    ledger.say_alive(session, organisation_id, clock())
            except Exception:  # a database blip costs one beat, not the heartbeat
                log.warning("the ledger's heartbeat could not be written", exc_info=True)

    beating = threading.Thread(target=beat, name="ledger-heartbeat", daemon=True)
    beating.start()
    try:
        yield
    finally:
        done.set()
        beating.join()


def _broken_off(
    record: PlannedRecord, error: MailfilerError, sent: set[str], capabilities: Capabilities
) -> WriteOutcome:
    """A record's outcome when its connector raised instead of answering: not written if it
    was never sent or the CRM could not be reached; else perhaps written."""
    reached = not isinstance(error, ConnectorUnavailable)
    if record.contact_id in sent and reached and not capabilities.rewrite_abandoned:
        return Unsure(str(error))
    return Failed(str(error))


def settlement(record: PlannedRecord, outcome: WriteOutcome | None) -> ledger.Settlement:
    """What the ledger keeps of one record's write."""
    if isinstance(outcome, Saved):
        if outcome.missing:
            missing = tuple((m.name, m.reason) for m in outcome.missing)
            names = ", ".join(m.name for m in outcome.missing)
            return ledger.Settlement(
                ledger.PARTIAL, outcome.record_id, f"saved without {names}", missing
            )
        return ledger.Settlement(ledger.SAVED, outcome.record_id)
    if isinstance(outcome, Unsure):
        unsent = tuple((name, "not sent: the record's write was not answered") for name in
                       outcome.unsent)  # fmt: skip
        return ledger.Settlement(ledger.UNSURE, record.existing_record_id, outcome.reason, unsent)
    reason = outcome.reason if isinstance(outcome, Failed) else "the save stopped"
    if record.existing_record_id:  # the record is there; its missing files still are missing
        missing = tuple((f.filename, reason) for f in record.files)
        return ledger.Settlement(ledger.PARTIAL, record.existing_record_id, reason, missing)
    return ledger.Settlement(ledger.FAILED, None, reason)


def turned_out(
    decided: SavePlan, written: Mapping[str, WriteOutcome], taken: Mapping[str, ledger.Taken]
) -> SavePlan:
    """The plan as it turned out: each record saved, held by another save, or not saved."""
    records = {r.contact_id: r for r in decided.records}

    def one(p: ParticipantOutcome) -> ParticipantOutcome:
        if p.status != "would_save" or p.contact_id is None:
            return p
        outcome = written.get(p.contact_id)
        record = records.get(p.contact_id)
        if isinstance(outcome, Saved):
            if outcome.missing:
                lost = "; ".join(f"{m.name}: {m.reason}" for m in outcome.missing)
                reason = f"saved without some of its files ({lost}); saving the message again " \
                    "sends only those"  # fmt: skip
                return replace(p, status="partial", record_id=outcome.record_id, reason=reason)
            if record is not None and record.existing_record_id:
                reason = f"the missing files were added to {decided.kind} {outcome.record_id}"
                return replace(p, status="saved", record_id=outcome.record_id, reason=reason)
            return replace(p, status="saved", record_id=outcome.record_id)
        if isinstance(outcome, Failed):
            if record is not None and record.existing_record_id:
                return replace(p, status="partial", reason=f"its missing files: {outcome.reason}")
            return replace(p, status="failed", reason=f"not saved: {outcome.reason}")
        if isinstance(outcome, Unsure):
            reason = f"perhaps saved: {outcome.reason}. It is not sent again until someone " \
                "checks the CRM and settles it"  # fmt: skip
            return replace(p, status="unsure", reason=reason)
        held = taken.get(p.contact_id)
        if held is None:
            return p
        if held.state == ledger.UNSURE:
            reason = UNSURE_BEFORE if not held.reason else f"{held.reason}"
            return replace(p, status="unsure", record_id=held.record_id, reason=reason)
        if held.state == ledger.PENDING:
            reason = "another save of this message is writing this record right now"
            return replace(p, status="duplicate", reason=reason)
        if held.state == ledger.PARTIAL:
            reason = f"already saved as {decided.kind} {held.record_id}, {held.reason}"
            return replace(p, status="partial", record_id=held.record_id, reason=reason)
        reason = (
            f"this message is already saved as {decided.kind} {held.record_id} for this contact"
        )
        return replace(p, status="duplicate", record_id=held.record_id, reason=reason)

    people = tuple(one(p) for p in decided.participants)
    if not any(p.status in ("saved", "partial") for p in people):
        return replace(decided, participants=people)
    missing = _missing_files(written)
    return replace(
        decided,
        participants=people,
        files=tuple(_file_saved(f, missing) for f in decided.files),
        eml=_file_saved(decided.eml, missing) if decided.eml else None,
    )


def _missing_files(written: Mapping[str, WriteOutcome]) -> dict[str, tuple[int, str]]:
    """File name -> (on how many records it is missing, why) for this save's writes."""
    missing: dict[str, tuple[int, str]] = {}
    for outcome in written.values():
        for file in outcome.missing if isinstance(outcome, Saved) else ():
            count, _ = missing.get(file.name, (0, ""))
            missing[file.name] = (count + 1, file.reason)
    return missing


def _file_saved(outcome: FileOutcome, missing: Mapping[str, tuple[int, str]]) -> FileOutcome:
    if outcome.status != "would_save":
        return outcome
    lost = missing.get(outcome.saved_as or "")
    if lost:
        count, why = lost
        reason = f"not attached to {count} record(s): {why}; saving the message again sends it"
        return replace(outcome, status="failed", reason=reason)
    return replace(outcome, status="saved")


def ask_the_crm(
    units: Units,
    tenant: Tenant,
    crm: Connector,
    entries: Sequence[ledger.ToCheck],
    clock: Clock,
) -> list[tuple[ledger.ToCheck, Found]]:
    """Records whose write was never answered, looked for in the CRM, each settled where the
    CRM can tell: it holds it (saved, with its key), or surely does not (to be written
    again). What it cannot tell stays unsure, with why."""
    answers: list[tuple[ledger.ToCheck, Found]] = []
    name = crm.capabilities.crm
    for entry in entries:
        if entry.state != ledger.UNSURE:
            continue
        kind: Kind = "activity" if entry.kind == "activity" else "interaction"
        written = Written(
            kind, entry.contact_id, entry.subject, entry.activity_type,
            sent_at=entry.sent_at or entry.reserved_at, now=clock(),
            activity_date=entry.activity_date,
        )  # fmt: skip
        try:
            found: Found = crm.look_for(written)
        except MailfilerError as error:  # the CRM cannot be asked now: it stays unsure
            found = StillUnknown(str(error))
        if isinstance(found, Landed | NotWritten):
            landed = found.record_id if isinstance(found, Landed) else None
            with units() as session:
                entry = ledger.settle_by_hand(
                    session, tenant.id, entry.number, landed=landed,
                    by=f"mailfiler, asking {name},", moment=clock(), crm=name,
                    files_there=found.files if isinstance(found, Landed) else None,
                )  # fmt: skip
        answers.append((entry, found))
    return answers
