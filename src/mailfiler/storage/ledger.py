"""The filing ledger: what mailfiler filed for whom, in whichever CRM (see ``tables.FilingEntry``).

A save goes: plan -> ``reserve`` (committed) -> write to the CRM (outside any
transaction) -> ``settle`` (committed). The unique key on (organisation,
contact, kind, message, copy) decides a race between two saves: the second
finds the first's entry, waits for it to settle, and answers "duplicate"
with its record ID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, delete, func, select, true, update
from sqlalchemy.orm import Session

from mailfiler.storage.database import insert_into
from mailfiler.storage.tables import FilingEntry

# A reservation older than this was left by a save that never finished (its
# process ended between writing and settling): the next save takes it over.
ABANDONED_AFTER: Final = timedelta(minutes=15)
# How long a save waits for another save of the same record to finish.
WAIT_FOR_OTHERS: Final = 20.0  # seconds

Units = Callable[..., AbstractContextManager[Session]]


@dataclass(frozen=True)
class Wanted:
    """A record a save means to write."""

    contact_id: str
    kind: str
    message_key: str
    subject: str
    another_copy: bool = False  # duplicates allowed and this contact has it: a new copy


@dataclass(frozen=True)
class Reserved:
    contact_id: str
    copy: int


@dataclass(frozen=True)
class Taken:
    """Another save holds this record: saved (with its ID), or still being written."""

    contact_id: str
    record_id: str | None


def filed(
    session: Session,
    organisation_id: int,
    kind: str,
    message_key: str,
    contact_ids: Collection[str] | None = None,
) -> dict[str, str]:
    """Contact ID -> the first record this message was saved as, for those saved ("": one
    that may have been written, see ``Settled``)."""
    query = (
        select(FilingEntry.contact_id, FilingEntry.record_id)
        .where(
            FilingEntry.organisation_id == organisation_id,
            FilingEntry.kind == kind,
            FilingEntry.message_key == message_key,
            FilingEntry.state.in_(("saved", "unsure")),
        )
        .order_by(FilingEntry.copy)
    )
    if contact_ids is not None:
        if not contact_ids:
            return {}
        query = query.where(FilingEntry.contact_id.in_(sorted(contact_ids)))
    found: dict[str, str] = {}
    for contact_id, record_id in session.execute(query):
        found.setdefault(contact_id, record_id or "")
    return found


def reserve(
    units: Units, organisation_id: int, saved_by: str, wanted: Sequence[Wanted], moment: datetime
) -> tuple[list[Reserved], list[Taken]]:
    """Claim an entry for each wanted record; what another save holds comes back as ``Taken``."""
    reserved: list[Reserved] = []
    taken: list[Taken] = []
    waiting = list(wanted)
    deadline = time.monotonic() + WAIT_FOR_OTHERS
    while waiting:
        with units() as session:
            claimed, held = _claim(session, organisation_id, saved_by, waiting, moment)
        reserved += claimed
        still: list[Wanted] = []
        for want, entry in held:
            if entry.state in ("saved", "unsure"):
                taken.append(Taken(want.contact_id, entry.record_id))
            elif time.monotonic() > deadline:
                taken.append(Taken(want.contact_id, None))  # still being written elsewhere
            else:
                still.append(want)
        waiting = still
        if waiting:
            time.sleep(0.05)
    return reserved, taken


def _claim(
    session: Session,
    organisation_id: int,
    saved_by: str,
    wanted: Sequence[Wanted],
    moment: datetime,
) -> tuple[list[Reserved], list[tuple[Wanted, FilingEntry]]]:
    claimed: list[Reserved] = []
    held: list[tuple[Wanted, FilingEntry]] = []
    for want in wanted:
        copy = _next_copy(session, organisation_id, want) if want.another_copy else 0
        values: dict[str, Any] = {
            "organisation_id": organisation_id,
            "contact_id": want.contact_id,
            "kind": want.kind,
            "message_key": want.message_key,
            "copy": copy,
            "state": "pending",
            "subject": want.subject,
            "saved_by": saved_by,
            "reserved_at": moment,
        }
        statement = insert_into(session, FilingEntry).values(values).on_conflict_do_nothing()
        if session.execute(statement.returning(FilingEntry.id)).first() is not None:
            claimed.append(Reserved(want.contact_id, copy))
            continue
        entry = session.scalars(
            select(FilingEntry).where(*_same(organisation_id, want, copy))
        ).one()
        if entry.state == "pending" and entry.reserved_at < moment - ABANDONED_AFTER:
            # Left by a save that never finished: this save takes it over. (The
            # built-in CRM's write is idempotent; see the README for iMIS.)
            entry.reserved_at, entry.saved_by = moment, saved_by
            claimed.append(Reserved(want.contact_id, copy))
            continue
        held.append((want, entry))
    session.flush()
    return claimed, held


def _next_copy(session: Session, organisation_id: int, want: Wanted) -> int:
    highest = session.scalar(
        select(func.max(FilingEntry.copy)).where(
            FilingEntry.organisation_id == organisation_id,
            FilingEntry.contact_id == want.contact_id,
            FilingEntry.kind == want.kind,
            FilingEntry.message_key == want.message_key,
        )
    )
    return 0 if highest is None else highest + 1


def _same(organisation_id: int, want: Wanted, copy: int) -> tuple[Any, ...]:
    return (
        FilingEntry.organisation_id == organisation_id,
        FilingEntry.contact_id == want.contact_id,
        FilingEntry.kind == want.kind,
        FilingEntry.message_key == want.message_key,
        FilingEntry.copy == copy,
    )


# How a reserved entry ends: saved (with the CRM's record ID), unsure (the CRM
# never answered: it may hold the record, so the entry is kept and the record
# never written again), or removed (None: nothing was written).
Settled = tuple[str, str] | None


def settle(
    session: Session,
    organisation_id: int,
    kind: str,
    message_key: str,
    outcomes: Iterable[tuple[Reserved, Settled]],
    moment: datetime,
) -> None:
    """Each reserved entry saved, held as unsure, or removed (see ``Settled``)."""
    for reservation, settled in outcomes:
        where = (
            FilingEntry.organisation_id == organisation_id,
            FilingEntry.contact_id == reservation.contact_id,
            FilingEntry.kind == kind,
            FilingEntry.message_key == message_key,
            FilingEntry.copy == reservation.copy,
        )
        if settled is None:
            session.execute(delete(FilingEntry).where(*where))
        else:
            state, record_id = settled
            session.execute(
                update(FilingEntry)
                .where(*where)
                .values(state=state, record_id=record_id or None, saved_at=moment)
            )


def for_contact(
    session: Session,
    organisation_id: int,
    contact_id: str | None,
    kinds: Collection[str],
    limit: int,
    offset: int,
) -> list[FilingEntry]:
    """What mailfiler filed for one contact (every contact: None), newest first."""
    return list(
        session.scalars(
            select(FilingEntry)
            .where(_saved_for(organisation_id, contact_id), FilingEntry.kind.in_(kinds))
            .order_by(FilingEntry.saved_at.desc(), FilingEntry.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    )


def count_for_contact(session: Session, organisation_id: int, contact_id: str | None) -> int:
    """How many records mailfiler filed for one contact (every contact: None)."""
    where = _saved_for(organisation_id, contact_id)
    return session.scalar(select(func.count()).select_from(FilingEntry).where(where)) or 0


def _saved_for(organisation_id: int, contact_id: str | None) -> Any:
    return and_(
        FilingEntry.organisation_id == organisation_id,
        FilingEntry.state == "saved",
        true() if contact_id is None else FilingEntry.contact_id == contact_id,
    )
