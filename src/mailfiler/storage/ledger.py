"""The filing ledger: what mailfiler filed for whom, in whichever CRM (see ``tables.FilingEntry``).

A save goes (``service.saving``): plan -> ``claim`` (committed, naming the
writing process) -> write to the CRM (outside any transaction, the writer
saying now and then that it is alive: ``say_alive``) -> ``settle``
(committed). Nothing here commits: the caller's unit of work does. The unique key on (organisation,
contact, kind, message, copy) decides a race between two saves: the second
finds the first's entry, waits for it to settle, and answers with it.

An entry whose writer died (its process is gone, or on another machine it
stopped beating) is written again only to a CRM whose writes are idempotent
(``Capabilities.rewrite_abandoned``); for any other it becomes "unsure" at
once, and someone checks the CRM and settles it by hand (``settle_by_hand``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import (
    Boolean,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from mailfiler.core.rules import Filed
from mailfiler.errors import BadRequest, Conflict, NotFound
from mailfiler.storage import writers
from mailfiler.storage.database import AnySelect, insert_into, rows
from mailfiler.storage.tables import FilingEntry

log = logging.getLogger("mailfiler.ledger")

# The ledger's table as Core sees it: statements for many entries at once (executemany).
_ENTRIES = cast(Table, FilingEntry.__table__)

PENDING: Final = "pending"
SAVED: Final = "saved"
PARTIAL: Final = "partial"  # written, without some of its files
FAILED: Final = "failed"  # the CRM refused it: nothing written; the next save writes it
UNSURE: Final = "unsure"  # it may have been written: never sent again until settled by hand
TO_CHECK: Final = (UNSURE, FAILED, PARTIAL)
HeldState = Literal["saved", "partial", "unsure"]

# A writer on another machine that has not said it is alive for this long has died.
LEASE: Final = timedelta(seconds=60)
# Entries reserved before writers were named (migration 0012) count as abandoned after this.
ABANDONED_AFTER: Final = timedelta(minutes=15)

WRITER_DIED: Final = (
    "the save that was writing this record stopped before {crm} answered (its process ended): "
    "it may have been written. It is not sent again until someone checks {crm} and settles it"
)
NOT_KNOWN_SENT: Final = "not known to have been sent"


@dataclass(frozen=True)
class Wanted:
    """A record a save means to write."""

    contact_id: str
    kind: str
    message_key: str
    subject: str
    another_copy: bool = False  # duplicates allowed and this contact has it: a new copy
    completing: bool = False  # the record exists without some files: only those are sent
    files: tuple[str, ...] = ()  # its files, by the names they are saved as
    activity_type: str | None = None
    activity_date: str | None = None  # an Activity's TRANSACTION_DATE as sent


@dataclass(frozen=True)
class Reserved:
    contact_id: str
    copy: int
    key: str  # the entry's own: what the CRM is given to write the record under


@dataclass(frozen=True)
class Taken:
    """What another save holds for this record: saved, partial or unsure (with its ID, if
    known), or still being written by a save that is alive."""

    contact_id: str
    state: str
    record_id: str | None
    reason: str = ""


@dataclass(frozen=True)
class Settlement:
    """How a reserved entry ends."""

    state: str  # SAVED, PARTIAL, FAILED or UNSURE
    record_id: str | None = None
    reason: str | None = None
    missing: tuple[tuple[str, str], ...] = ()  # (file name, why it is missing)


def filed(
    session: Session,
    organisation_id: int,
    kind: str,
    message_key: str,
    contact_ids: Collection[str] | None = None,
) -> dict[str, Filed]:
    """Contact ID -> what this message is held as for them (saved, partial or unsure), the
    first copy first."""
    return filed_as(session, organisation_id, (kind,), message_key, contact_ids)[kind]


def filed_as(
    session: Session,
    organisation_id: int,
    kinds: Collection[str],
    message_key: str,
    contact_ids: Collection[str] | None = None,
) -> dict[str, dict[str, Filed]]:
    """``filed`` for each of ``kinds``, in one query (a review asks for both): a statement
    built once, its text compiled once (``rows``: every message read runs it)."""
    found: dict[str, dict[str, Filed]] = {kind: {} for kind in kinds}
    if contact_ids is not None and not contact_ids:
        return found
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _FILED[(postgres, contact_ids is not None)]
    parameters = {
        "organisation_id": organisation_id, "message_key": message_key,
        "kinds": sorted(found), "contacts": sorted(contact_ids or ()),
    }  # fmt: skip
    for entry in rows(session, statement, parameters):
        missing = tuple(f["name"] for f in entry.missing_files or ())
        state = cast(HeldState, entry.state)  # one of those the query asked for
        held = Filed(state, entry.record_id or "", missing, entry.reason or "")
        found[entry.kind].setdefault(entry.contact_id, held)
    return found


def filed_whole(session: Session, organisation_id: int, kind: str, message_key: str) -> bool:
    """Whether this message was filed as ``kind`` and every record of it is saved: nothing
    failed, partial, unsure or being written."""
    states = set(
        session.scalars(
            select(FilingEntry.state).where(
                FilingEntry.organisation_id == organisation_id,
                FilingEntry.kind == kind,
                FilingEntry.message_key == message_key,
            )
        )
    )
    return states == {SAVED}


def _filed(postgres: bool, some_contacts: bool) -> AnySelect:
    """What a message is held as: on PostgreSQL "= ANY(array)", one statement text however
    many contacts, kept prepared by the server."""

    def one_of(column: Any, name: str) -> Any:
        if postgres:
            return column == any_(bindparam(name, type_=postgresql.ARRAY(String)))
        return column.in_(bindparam(name, expanding=True))

    where = [
        _ENTRIES.c.organisation_id == bindparam("organisation_id"),
        one_of(_ENTRIES.c.kind, "kinds"),
        _ENTRIES.c.message_key == bindparam("message_key"),
        # Written into the text (our own constants): ``rows`` sends no other values.
        _ENTRIES.c.state.in_([literal_column(f"'{held}'") for held in (SAVED, PARTIAL, UNSURE)]),
    ]
    if some_contacts:
        where.append(one_of(_ENTRIES.c.contact_id, "contacts"))
    columns = ("contact_id", "kind", "state", "record_id", "missing_files", "reason")
    return select(*(_ENTRIES.c[name] for name in columns)).where(*where).order_by(_ENTRIES.c.copy)


_FILED = {(pg, some): _filed(pg, some) for pg in (True, False) for some in (True, False)}


def claim(
    session: Session,
    organisation_id: int,
    saved_by: str,
    wanted: Sequence[Wanted],
    moment: datetime,
    *,
    crm: str,
    rewrite_abandoned: bool,
) -> tuple[list[Reserved], list[tuple[Wanted, FilingEntry]], list[Wanted]]:
    """One pass at claiming an entry for each wanted record: those claimed; those another
    save holds, with its entry (a living writer's is still pending: the caller waits for
    it); those another save changed meanwhile (look again). A dead writer's entry is taken
    over when ``rewrite_abandoned``, and made "unsure" at once otherwise."""
    return _Claim(organisation_id, saved_by, moment, crm, rewrite_abandoned).all(session, wanted)


@dataclass(frozen=True)
class _Claim:
    organisation_id: int
    saved_by: str
    moment: datetime
    crm: str
    rewrite_abandoned: bool

    def all(
        self, session: Session, wanted: Sequence[Wanted]
    ) -> tuple[list[Reserved], list[tuple[Wanted, FilingEntry]], list[Wanted]]:
        claimed: list[Reserved] = []
        held: list[tuple[Wanted, FilingEntry]] = []
        lost: list[Wanted] = []
        copies = [(want, _copy_for(session, self.organisation_id, want)) for want in wanted]
        made = self._insert_new(session, copies)
        for want, copy in copies:
            number = made.get((want.contact_id, want.kind, copy))
            if number is not None:
                claimed.append(Reserved(want.contact_id, copy, str(number)))
                continue
            entry = session.scalars(
                select(FilingEntry).filter_by(**_key(self.organisation_id, want, copy))
            ).one()
            verdict = self._verdict(want, entry)
            if verdict == "take":
                if _swap(session, entry, self._writing(want)):
                    claimed.append(Reserved(want.contact_id, copy, str(entry.id)))
                else:
                    lost.append(want)
            elif verdict == "unsure":
                if _swap(session, entry, self._abandoned(entry)):
                    session.refresh(entry)
                    held.append((want, entry))
                else:
                    lost.append(want)
            else:
                held.append((want, entry))
        session.flush()
        return claimed, held, lost

    def _insert_new(
        self, session: Session, copies: Sequence[tuple[Wanted, int]]
    ) -> dict[tuple[str, str, int], int]:
        """A new entry for each record no save has one for, in one statement: (contact ID,
        kind, copy) -> its number. Those another save made are left as they are."""
        if not copies:
            return {}
        rows = [
            {**_key(self.organisation_id, want, copy), **self._writing(want),
             "subject": want.subject, "record_id": None, "saved_at": None}
            for want, copy in copies
        ]  # fmt: skip
        statement = (
            insert_into(session, _ENTRIES)
            .on_conflict_do_nothing()
            .returning(_ENTRIES.c.id, _ENTRIES.c.contact_id, _ENTRIES.c.kind, _ENTRIES.c.copy)
        )
        found = session.execute(statement, rows)
        return {(row.contact_id, row.kind, row.copy): row.id for row in found}

    def _verdict(self, want: Wanted, entry: FilingEntry) -> str:
        """What to do with an entry another save made: take it, make it unsure, or hold."""
        if entry.state == FAILED or (entry.state == PARTIAL and want.completing):
            return "take"
        if entry.state == PENDING and writer_gone(entry, self.moment):
            # Never sent (the writer died before it): the CRM cannot hold it.
            sent = entry.sending_at is not None
            return "unsure" if sent and not self.rewrite_abandoned else "take"
        return "held"

    def _writing(self, want: Wanted) -> dict[str, Any]:
        return {
            "state": PENDING,
            "saved_by": self.saved_by,
            "reserved_at": self.moment,
            "writer": writers.this_writer(),
            "alive_at": self.moment,
            "sending_at": None,
            "files": list(want.files),
            "activity_type": want.activity_type,
            "activity_date": want.activity_date,
            "reason": None,
        }

    def _abandoned(self, entry: FilingEntry) -> dict[str, Any]:
        return abandoned(entry, self.crm)


def abandoned(entry: FilingEntry, crm: str) -> dict[str, Any]:
    """The values that make a dead writer's entry "unsure": what it was sending is unknown."""
    missing = entry.missing_files or [
        {"name": n, "reason": NOT_KNOWN_SENT} for n in entry.files or ()
    ]
    return {
        "state": UNSURE,
        "reason": WRITER_DIED.format(crm=crm),
        "missing_files": missing,
        "writer": None,
        "alive_at": None,
    }


def writer_gone(entry: FilingEntry, moment: datetime) -> bool:
    """Whether the process writing a pending entry has ended."""
    verdict = writers.gone(entry.writer)
    if verdict is not None:
        return verdict
    if entry.writer is None:  # reserved before writers were named
        return entry.reserved_at < moment - ABANDONED_AFTER
    return (entry.alive_at or entry.reserved_at) < moment - LEASE


def _swap(session: Session, entry: FilingEntry, values: dict[str, Any]) -> bool:
    """Change an entry only if nobody did since it was read (another save may be deciding
    the same thing at the same moment): True when this save did it."""
    changed = session.execute(
        update(FilingEntry)
        .where(
            FilingEntry.id == entry.id,
            FilingEntry.state == entry.state,
            _same_or_null(FilingEntry.writer, entry.writer),
            FilingEntry.reserved_at == entry.reserved_at,
        )
        .values(values)
        .returning(FilingEntry.id)
    ).first()
    return changed is not None


def _same_or_null(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _key(organisation_id: int, want: Wanted, copy: int) -> dict[str, Any]:
    return {
        "organisation_id": organisation_id,
        "contact_id": want.contact_id,
        "kind": want.kind,
        "message_key": want.message_key,
        "copy": copy,
    }


def _copy_for(session: Session, organisation_id: int, want: Wanted) -> int:
    """0; for another copy, a failed copy to write again, else the next number."""
    if not want.another_copy:
        return 0
    same = (
        FilingEntry.organisation_id == organisation_id,
        FilingEntry.contact_id == want.contact_id,
        FilingEntry.kind == want.kind,
        FilingEntry.message_key == want.message_key,
    )
    failed_copy = session.scalar(
        select(func.min(FilingEntry.copy)).where(*same, FilingEntry.state == FAILED)
    )
    if failed_copy is not None:
        return int(failed_copy)
    highest = session.scalar(select(func.max(FilingEntry.copy)).where(*same))
    return 0 if highest is None else highest + 1


def mark_sending(
    session: Session,
    organisation_id: int,
    kind: str,
    message_key: str,
    reservation: Reserved,
    moment: datetime,
) -> bool:
    """The record is about to leave for the CRM: from now on, should its writer die, the CRM
    may hold it. False when this process no longer holds it (another save, judging it
    dead, took it over): it must not be sent."""
    marked = session.execute(
        update(FilingEntry)
        .where(
            *_reserved(organisation_id, kind, message_key, reservation),
            FilingEntry.state == PENDING,
            FilingEntry.writer == writers.this_writer(),
        )
        .values(sending_at=moment)
        .returning(FilingEntry.id)
    ).first()
    return marked is not None


def _reserved(
    organisation_id: int, kind: str, message_key: str, reservation: Reserved
) -> tuple[Any, ...]:
    key = {"organisation_id": organisation_id, "contact_id": reservation.contact_id,
           "kind": kind, "message_key": message_key, "copy": reservation.copy}  # fmt: skip
    return tuple(getattr(FilingEntry, name) == value for name, value in key.items())


def say_alive(session: Session, organisation_id: int, moment: datetime) -> None:
    """This process is still writing its pending entries (for a save on another machine,
    which cannot see this process)."""
    session.execute(
        update(FilingEntry)
        .where(
            FilingEntry.organisation_id == organisation_id,
            FilingEntry.writer == writers.this_writer(),
            FilingEntry.state == PENDING,
        )
        .values(alive_at=moment)
    )


def settle(
    session: Session,
    organisation_id: int,
    kind: str,
    message_key: str,
    outcomes: Iterable[tuple[Reserved, Settlement]],
    moment: datetime,
) -> None:
    """Each reserved entry as its write turned out (see ``Settlement``): one statement for
    all of them, each entry by its own key."""
    rows = [
        {
            "entry": int(reservation.key),
            "new_state": settled.state,
            "new_reason": settled.reason,
            "missing": [{"name": n, "reason": r} for n, r in settled.missing] or None,
            # An unsure one keeps when it left: the CRM is asked by it.
            "keeps_sending_at": settled.state == UNSURE,
            "new_record_id": settled.record_id or None,
            "has_record_id": settled.record_id is not None,
            "new_saved_at": None if settled.state == FAILED else moment,
            "me": writers.this_writer(),
        }
        for reservation, settled in outcomes
    ]
    if rows:
        session.execute(_SETTLE, rows)


# Only what this process still holds: not an entry another save took over, but one another
# save made "unsure" thinking this process dead (this is the truth). Built once: a save
# settles its records with one executemany of it.
_SETTLE = (
    update(_ENTRIES)
    .where(
        _ENTRIES.c.id == bindparam("entry"),
        or_(
            and_(_ENTRIES.c.state == PENDING, _ENTRIES.c.writer == bindparam("me")),
            and_(_ENTRIES.c.state == UNSURE, _ENTRIES.c.writer.is_(None)),
        ),
    )
    .values(
        state=bindparam("new_state"),
        reason=bindparam("new_reason"),
        missing_files=bindparam("missing", type_=_ENTRIES.c.missing_files.type),
        writer=None,
        alive_at=None,
        sending_at=case(
            (bindparam("keeps_sending_at", type_=Boolean()), _ENTRIES.c.sending_at), else_=None
        ),
        record_id=case(
            (bindparam("has_record_id", type_=Boolean()), bindparam("new_record_id")),
            else_=_ENTRIES.c.record_id,
        ),
        saved_at=func.coalesce(
            bindparam("new_saved_at", type_=_ENTRIES.c.saved_at.type), _ENTRIES.c.saved_at
        ),
    )
)


# -- what was filed ------------------------------------------------------------------


def for_contact(
    session: Session,
    organisation_id: int,
    contact_id: str | None,
    kinds: Collection[str],
    limit: int,
    offset: int,
) -> list[FilingEntry]:
    """The records mailfiler wrote for one contact (every contact: None), newest first."""
    return list(
        session.scalars(
            select(FilingEntry)
            .where(_written_for(organisation_id, contact_id), FilingEntry.kind.in_(kinds))
            .order_by(FilingEntry.saved_at.desc(), FilingEntry.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    )


def count_for_contact(session: Session, organisation_id: int, contact_id: str | None) -> int:
    """How many records mailfiler wrote for one contact (every contact: None)."""
    where = _written_for(organisation_id, contact_id)
    return session.scalar(select(func.count()).select_from(FilingEntry).where(where)) or 0


def _written_for(organisation_id: int, contact_id: str | None) -> Any:
    return and_(
        FilingEntry.organisation_id == organisation_id,
        FilingEntry.state.in_((SAVED, PARTIAL)),
        true() if contact_id is None else FilingEntry.contact_id == contact_id,
    )


# -- what needs someone ----------------------------------------------------------------


def recover(
    session: Session,
    organisation_id: int,
    moment: datetime,
    *,
    crm: str,
    rewrite_abandoned: bool,
    message_key: str | None = None,
) -> int:
    """Entries whose writer died (of one message, or all), made what they are: failed (a CRM
    whose write may be repeated: the next save writes them) or unsure. How many there were."""
    query = select(FilingEntry).where(
        FilingEntry.organisation_id == organisation_id, FilingEntry.state == PENDING
    )
    if message_key is not None:
        query = query.where(FilingEntry.message_key == message_key)
    pending = session.scalars(query).all()
    count = 0
    for entry in pending:
        if not writer_gone(entry, moment):
            continue
        values = abandoned(entry, crm)
        if rewrite_abandoned or entry.sending_at is None:
            values = {**values, "state": FAILED, "missing_files": None}
            values["reason"] = "the save writing it stopped before it finished: save it again"
        count += _swap(session, entry, values)
    return count


@dataclass(frozen=True)
class ToCheck:
    """A record that needs someone: unsure, failed or partial, and why."""

    number: int  # what ``settle_by_hand`` is given
    state: str
    kind: str
    contact_id: str
    subject: str
    record_id: str | None
    saved_by: str
    reserved_at: datetime
    reason: str
    missing_files: tuple[tuple[str, str], ...]  # (name, why)
    sent_at: datetime | None = None  # when it left for the CRM, where known
    activity_type: str | None = None
    activity_date: str | None = None


def _to_check(entry: FilingEntry) -> ToCheck:
    return ToCheck(
        number=entry.id,
        state=entry.state,
        kind=entry.kind,
        contact_id=entry.contact_id,
        subject=entry.subject,
        record_id=entry.record_id,
        saved_by=entry.saved_by,
        reserved_at=entry.reserved_at,
        reason=entry.reason or "",
        missing_files=tuple((f["name"], f["reason"]) for f in entry.missing_files or ()),
        sent_at=entry.sending_at,
        activity_type=entry.activity_type,
        activity_date=entry.activity_date,
    )


def to_check(
    session: Session,
    organisation_id: int,
    contact_id: str | None = None,
    limit: int = 500,
    *,
    states: Collection[str] = TO_CHECK,
    kind: str | None = None,
    message_key: str | None = None,
) -> list[ToCheck]:
    """The records that need someone (unsure, failed and partial; or ``states``), newest
    first; of one contact, or of one message filed as one kind."""
    where = [FilingEntry.organisation_id == organisation_id, FilingEntry.state.in_(states)]
    if contact_id is not None:
        where.append(FilingEntry.contact_id == contact_id)
    if kind is not None and message_key is not None:
        where += [FilingEntry.kind == kind, FilingEntry.message_key == message_key]
    entries = session.scalars(
        select(FilingEntry)
        .where(*where)
        .order_by(FilingEntry.reserved_at.desc(), FilingEntry.id.desc())
        .limit(limit)
    )
    return [_to_check(e) for e in entries]


def settle_by_hand(
    session: Session,
    organisation_id: int,
    entry_id: int,
    *,
    landed: str | None,
    by: str,
    moment: datetime,
    crm: str,
    files_there: Collection[str] | None = None,
) -> ToCheck:
    """Someone checked the CRM: the record is there (``landed``, with the CRM's key for it),
    or it is not and is to be sent again (``landed`` None) with the next save."""
    entry = session.scalars(
        select(FilingEntry).where(
            FilingEntry.organisation_id == organisation_id, FilingEntry.id == entry_id
        )
    ).one_or_none()
    if entry is None:
        raise NotFound(f"no record to check has the number {entry_id}")
    if entry.state not in TO_CHECK:
        raise Conflict(f"record {entry_id} is {entry.state}: there is nothing to settle")
    when = moment.strftime("%Y-%m-%d %H:%M UTC")
    values: dict[str, Any]
    if landed is not None:
        key = landed.strip() or (entry.record_id or "")
        if not key or len(key) > 100 or not key.isprintable():
            raise BadRequest(f"give the key {crm} shows for the record (at most 100 characters)")
        unsent = [f for f in entry.missing_files or ()] if entry.state != PARTIAL else []
        if files_there is not None:  # the CRM showed the record's files: those are not missing
            unsent = [f for f in unsent if f["name"] not in files_there]
        values = {"record_id": key, "saved_at": entry.saved_at or moment}
        if unsent:
            names = ", ".join(f["name"] for f in unsent)
            values |= {"state": PARTIAL, "missing_files": [
                {"name": f["name"], "reason": f"not sent with the record ({by} settled it)"}
                for f in unsent
            ], "reason": f"{by} found it in {crm} on {when}; {names} were not sent with it: the "
                "next save of the message sends them"}  # fmt: skip
        else:
            values |= {"state": SAVED, "missing_files": None, "reason": None}
    elif entry.record_id:  # the record is there; only its files are to be sent again
        values = {
            "state": PARTIAL,
            "missing_files": entry.missing_files,
            "reason": f"{by} asked on {when} for its missing files to be sent with the next save",
        }
    else:
        values = {
            "state": FAILED,
            "missing_files": None,
            "reason": f"{by} found it is not in {crm} ({when}): the next save of the message "
            "writes it",
        }
    session.execute(update(FilingEntry).where(FilingEntry.id == entry.id).values(values))
    session.refresh(entry)
    return _to_check(entry)
