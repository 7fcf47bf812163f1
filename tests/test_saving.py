"""The one save path (saving.py) with the filing ledger, over any CRM: here a fake one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mailfiler.connectors import registry
from mailfiler.connectors.base import Failed, Saved, WriteOutcome
from mailfiler.connectors.fake import FakeCRM
from mailfiler.core.match import Contact
from mailfiler.core.plan import Capabilities, PlannedRecord
from mailfiler.service import Service
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import Org, new_org

FIVE = [Contact(str(n), f"Member {n}", "", (f"m{n}@members.example",)) for n in range(201, 206)]
TO_FIVE = (
    b"From: m201@members.example\r\nTo: m202@members.example, m203@members.example, "
    b"m204@members.example, m205@members.example\r\nSubject: Board papers\r\n"
    b"Message-ID: <board-papers@members.example>\r\n\r\nThe papers.\r\n"
)


@pytest.fixture
def fake(service: Service) -> tuple[Org, FakeCRM]:
    crm = FakeCRM(contacts=list(FIVE))
    registry.register("fake", lambda tenant, needs: crm)
    org = new_org(service, with_contacts=False)
    with service.unit() as session:
        session.execute(
            update(Organisation).where(Organisation.cloud_id == org.cloud_id).values(crm="fake")
        )
    return org, crm


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


def test_a_crm_that_cannot_be_reached_fails_every_record_and_holds_none(
    fake: tuple[Org, FakeCRM],
) -> None:
    from mailfiler.errors import ConnectorUnavailable

    org, crm = fake

    def down(record: PlannedRecord) -> WriteOutcome:
        raise ConnectorUnavailable("iMIS cannot be reached (connection refused)")

    crm.write_one = down
    outcome = org.file(org.service.read(TO_FIVE))
    assert {p.status for p in outcome.participants} == {"failed"}
    assert all("cannot be reached" in p.reason for p in outcome.participants)
    assert held(org) == []  # nothing is reserved: the next save writes them all


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


def test_a_reservation_left_by_a_save_that_never_finished_is_taken_over(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    message = org.service.read(TO_FIVE)
    with org.service.unit() as session:
        tenant_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == org.cloud_id)
        )
        session.add(
            FilingEntry(
                organisation_id=tenant_id, contact_id="201", kind="interaction",
                message_key=message.key, copy=0, state="pending", subject="Board papers",
                saved_by="jdoe", reserved_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )  # fmt: skip
    outcome = org.file(message)
    assert {p.status for p in outcome.participants} == {"saved"}
    assert sorted(r.contact_id for r in crm.written) == ["201", "202", "203", "204", "205"]
