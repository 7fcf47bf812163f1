"""The one save path (saving.py) with the filing ledger, over any CRM: here a fake one."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from mailfiler.connectors import registry
from mailfiler.connectors.base import Failed, Saved, WriteOutcome
from mailfiler.connectors.fake import FakeCRM
from mailfiler.core.match import Contact
from mailfiler.core.message import Message
from mailfiler.core.plan import Capabilities, PlannedRecord
from mailfiler.service import Service, saving
from mailfiler.storage import ledger, writers
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import Org, new_org, status_of

FIVE = [Contact(str(n), f"Member {n}", "", (f"m{n}@members.example",)) for n in range(201, 206)]
TO_FIVE = (
    b"From: m201@members.example\r\nTo: m202@members.example, m203@members.example, "
    b"m204@members.example, m205@members.example\r\nSubject: Board papers\r\n"
    b"Message-ID: <board-papers@members.example>\r\n\r\nThe papers.\r\n"
)


_FAKES = itertools.count(1)


def use_fake_crm(service: Service, crm: FakeCRM) -> Org:
    """A new organisation that files into ``crm``."""
    kind = f"fake{next(_FAKES)}"  # the column holds 20 characters
    registry.register(kind, lambda tenant, needs: crm)
    org = new_org(service, with_contacts=False)
    with service.unit() as session:
        session.execute(
            update(Organisation).where(Organisation.cloud_id == org.cloud_id).values(crm=kind)
        )
    return org


@pytest.fixture
def fake(service: Service) -> tuple[Org, FakeCRM]:
    crm = FakeCRM(contacts=list(FIVE))
    return use_fake_crm(service, crm), crm


def test_a_crm_failing_half_way_says_which_were_saved_and_a_second_save_writes_the_rest(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    calls: list[str] = []

    def third_fails(record: PlannedRecord) -> WriteOutcome:
        calls.append(record.contact_id)
        if len(calls) == 3:
            return Failed("the CRM answered 500 Internal Server Error")
        return Saved(f"R{record.contact_id}")

    crm.write_one = third_fails
    message = org.service.read(TO_FIVE)
    first = org.file(message)
    statuses = {p.contact_id: (p.status, p.record_id) for p in first.participants}
    assert statuses == {
        "201": ("saved", "R201"), "202": ("saved", "R202"), "203": ("failed", None),
        "204": ("saved", "R204"), "205": ("saved", "R205"),
    }  # fmt: skip
    failed = next(p for p in first.participants if p.status == "failed")
    assert "500 Internal Server Error" in failed.reason
    crm.write_one = None
    second = org.file(message)
    assert [r.contact_id for r in crm.written][-1:] == ["203"]
    assert {p.contact_id: p.status for p in second.participants} == {
        "201": "duplicate", "202": "duplicate", "203": "saved", "204": "duplicate",
        "205": "duplicate",
    }  # fmt: skip
    assert len(crm.written) == 5  # four the first time, the one left the second


def test_a_crm_that_cannot_be_reached_fails_every_record_and_the_next_save_writes_them(
    fake: tuple[Org, FakeCRM],
) -> None:
    from mailfiler.errors import ConnectorUnavailable

    org, crm = fake

    def down(record: PlannedRecord) -> WriteOutcome:
        raise ConnectorUnavailable("iMIS cannot be reached (connection refused)")

    crm.write_one = down
    message = org.service.read(TO_FIVE)
    outcome = org.file(message)
    assert {p.status for p in outcome.participants} == {"failed"}
    assert all("cannot be reached" in p.reason for p in outcome.participants)
    # Kept as failed, with the reason, for anyone checking; nothing is held back.
    assert {(e.state, e.reason) for e in held(org)} == {
        ("failed", "iMIS cannot be reached (connection refused)")
    }
    crm.write_one = None
    again = org.file(message)
    assert {p.status for p in again.participants} == {"saved"}
    assert {e.state for e in held(org)} == {"saved"} and len(held(org)) == 5


def held(org: Org) -> list[FilingEntry]:
    with org.service.unit() as session:
        return list(
            session.scalars(
                select(FilingEntry)
                .join(Organisation, Organisation.id == FilingEntry.organisation_id)
                .where(Organisation.cloud_id == org.cloud_id)
            )
        )


def test_what_the_crm_cannot_take_is_said_before_the_save(fake: tuple[Org, FakeCRM]) -> None:
    org, crm = fake
    crm.capabilities = Capabilities(crm="iMIS", activity_attachments=False, interaction_date=False)
    crm.contacts.append(Contact("101", "Ann Archer", "", ("ann@members.example",)))
    message = org.read("encoded-words.eml")
    as_activity = org.inspect(message, kind="activity")
    assert {f.status for f in as_activity.files} == {"excluded"}
    assert all("iMIS cannot attach files to an Activity" in f.reason for f in as_activity.files)
    as_interaction = org.inspect(message)
    assert any("iMIS dates an interaction by when it is saved" in n for n in as_interaction.notes)
    assert {f.status for f in as_interaction.files} == {"would_save"}


def test_two_saves_at_once_write_one_record_and_both_name_it(fake: tuple[Org, FakeCRM]) -> None:
    org, crm = fake
    gate = threading.Event()

    def slow(record: PlannedRecord) -> WriteOutcome:
        gate.wait(10)  # the first save holds its reservation while the second arrives
        return Saved(f"R{record.contact_id}")

    crm.write_one = slow
    message = org.service.read(TO_FIVE)
    results = []
    saves = [threading.Thread(target=lambda: results.append(org.file(message))) for _ in range(2)]
    for save in saves:
        save.start()
    threading.Timer(0.5, gate.set).start()
    for save in saves:
        save.join()
    assert len(crm.written) == 5
    statuses = sorted(p.status for outcome in results for p in outcome.participants)
    assert statuses == ["duplicate"] * 5 + ["saved"] * 5
    duplicates = [p for o in results for p in o.participants if p.status == "duplicate"]
    assert {p.record_id for p in duplicates} == {f"R{n}" for n in range(201, 206)}


def dead_writer() -> str:
    """The ledger's name for a process of this machine that was killed (kill -9)."""
    process = subprocess.Popen(["sleep", "60"])
    name = writers.named(process.pid)
    process.kill()
    process.wait()
    return name


def left_pending(
    org: Org, message: Message, contact_id: str, writer: str | None, **at: Any
) -> None:
    """An entry as a save that died while writing leaves it."""
    with org.service.unit() as session:
        tenant_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == org.cloud_id)
        )
        session.add(
            FilingEntry(
                organisation_id=tenant_id, contact_id=contact_id, kind="interaction",
                message_key=message.key, copy=0, state="pending", subject="Board papers",
                saved_by="jdoe", reserved_at=at.get("reserved_at", MOMENT), writer=writer,
                alive_at=at.get("alive_at"), sending_at=at.get("sending_at"),
                files=["papers.pdf"],
            )
        )  # fmt: skip


MOMENT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def never_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that would wait for another (living) save fails the test instead."""

    def refuse(seconds: float) -> None:
        raise AssertionError("the save waited for a writer that is gone")

    monkeypatch.setattr(saving, "_pause", refuse)


@pytest.mark.usefixtures("never_waits")
def test_a_record_whose_writer_died_is_unsure_at_once_and_never_sent_again(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    message = org.service.read(TO_FIVE)
    left_pending(org, message, "201", dead_writer(), sending_at=MOMENT)
    outcome = org.file(message)
    [ann] = [p for p in outcome.participants if p.contact_id == "201"]
    assert ann.status == "unsure"
    assert "stopped before the fake CRM answered" in ann.reason
    assert "another save" not in ann.reason
    assert sorted(r.contact_id for r in crm.written) == ["202", "203", "204", "205"]
    again = org.file(message)  # and on every later save: unsure, not "duplicate"
    assert status_of(again, "m201@members.example") == "unsure"
    assert "201" not in [r.contact_id for r in crm.written]


@pytest.mark.usefixtures("never_waits")
def test_a_record_its_dead_writer_never_began_sending_is_written_by_the_rerun(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    message = org.service.read(TO_FIVE)
    left_pending(org, message, "201", dead_writer(), sending_at=None)
    outcome = org.file(message)
    assert {p.status for p in outcome.participants} == {"saved"}
    assert sorted(r.contact_id for r in crm.written) == ["201", "202", "203", "204", "205"]


@pytest.mark.usefixtures("never_waits")
def test_a_crm_whose_write_can_be_repeated_takes_over_a_dead_writer_s_record(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    crm.capabilities = replace(crm.capabilities, rewrite_abandoned=True)
    message = org.service.read(TO_FIVE)
    left_pending(org, message, "201", dead_writer(), sending_at=MOMENT)
    outcome = org.file(message)
    assert {p.status for p in outcome.participants} == {"saved"}
    assert sorted(r.contact_id for r in crm.written) == ["201", "202", "203", "204", "205"]


def test_a_writer_on_another_machine_is_alive_while_its_heartbeat_is_recent() -> None:
    elsewhere = "another-host|pid:[4026531836]|0f6c1e2a|4242|123456"
    entry = FilingEntry(state="pending", writer=elsewhere, reserved_at=MOMENT, alive_at=MOMENT)
    assert not ledger.writer_gone(entry, MOMENT + ledger.LEASE - timedelta(seconds=1))
    assert ledger.writer_gone(entry, MOMENT + ledger.LEASE + timedelta(seconds=1))
    before_0012 = FilingEntry(state="pending", writer=None, reserved_at=MOMENT)
    assert not ledger.writer_gone(before_0012, MOMENT + timedelta(minutes=14))
    assert ledger.writer_gone(before_0012, MOMENT + timedelta(minutes=16))
    assert not ledger.writer_gone(
        FilingEntry(state="pending", writer=writers.this_writer(), reserved_at=MOMENT),
        MOMENT + timedelta(days=1),
    )  # this process runs, whatever the clocks say


def test_a_living_writer_s_heartbeat_keeps_its_entries_alive(service: Service) -> None:
    org = new_org(service, with_contacts=False)
    message = service.read(TO_FIVE)
    left_pending(org, message, "201", writers.this_writer(), alive_at=MOMENT)
    with service.unit() as session:
        tenant_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == org.cloud_id)
        )
    later = MOMENT + timedelta(minutes=5)
    with saving.keep_alive(service.unit, tenant_id or 0, lambda: later, every=0.01):
        deadline = time.monotonic() + 10
        while held(org)[0].alive_at != later and time.monotonic() < deadline:
            time.sleep(0.01)
    assert held(org)[0].alive_at == later


def test_a_database_fault_while_sending_never_makes_written_records_look_unwritten(
    fake: tuple[Org, FakeCRM], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailfiler.errors import SystemFault

    org, crm = fake
    marks = []
    mark = ledger.mark_sending

    def fails_on_the_third(*args: Any, **kwargs: Any) -> bool:
        marks.append(args)
        if len(marks) == 3:
            raise SystemFault("the database failed: OperationalError")
        return mark(*args, **kwargs)

    monkeypatch.setattr(ledger, "mark_sending", fails_on_the_third)
    message = org.service.read(TO_FIVE)
    first = org.file(message)
    statuses = {p.contact_id: p.status for p in first.participants}
    assert statuses == {"201": "saved", "202": "saved", "203": "failed", "204": "saved",
                        "205": "saved"}  # fmt: skip
    [third] = [p for p in first.participants if p.contact_id == "203"]
    assert "could not note that it was being sent" in third.reason
    monkeypatch.setattr(ledger, "mark_sending", mark)
    org.file(message)
    assert sorted(r.contact_id for r in crm.written) == ["201", "202", "203", "204", "205"]


def test_a_record_another_save_took_over_is_not_sent_by_the_first(
    fake: tuple[Org, FakeCRM],
) -> None:
    """A living writer judged dead (a clock skewed, a heartbeat lost): the save that took its
    record over writes it, and the first, finding it no longer holds it, sends nothing."""
    org, crm = fake
    message = org.service.read(TO_FIVE)
    other = "another-host|pid:[1]|boot|1|1"

    def taken_over_meanwhile(record: PlannedRecord) -> WriteOutcome:
        if record.contact_id == "201":  # while 201 is written, another save takes 202
            with org.service.unit() as session:
                session.execute(
                    update(FilingEntry)
                    .where(FilingEntry.contact_id == "202", FilingEntry.message_key == message.key)
                    .values(writer=other)
                )
        return Saved(f"R{record.contact_id}")

    crm.write_one = taken_over_meanwhile
    outcome = org.file(message)
    [bob] = [p for p in outcome.participants if p.contact_id == "202"]
    assert bob.status == "failed" and "took this record over" in bob.reason
    assert "202" not in [r.contact_id for r in crm.written]
    [entry] = [e for e in held(org) if e.contact_id == "202"]
    assert (entry.state, entry.writer) == ("pending", other)  # left to the save that holds it
