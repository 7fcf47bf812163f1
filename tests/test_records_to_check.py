"""Records that need someone: a file that did not land (partial), a write never answered
(unsure), a refusal (failed); listed, settled by hand, and completed by a later save."""

from __future__ import annotations

import pytest

from mailfiler import accounts
from mailfiler.connectors.base import MissingFile, Saved, Unsure, WriteOutcome
from mailfiler.connectors.fake import FakeCRM
from mailfiler.core.match import Contact
from mailfiler.core.plan import PlannedRecord
from mailfiler.errors import Conflict
from mailfiler.service import Service
from mailfiler.storage import ledger
from tests.conftest import Org, fixture_contacts, status_of
from tests.imis_site import SEARCH_QUERY, Site, new_imis_org
from tests.test_saving import held, use_fake_crm


def contacts() -> list[Contact]:
    return [
        Contact(r.contact_id, r.full_name, r.organization, r.emails) for r in fixture_contacts()
    ]


@pytest.fixture
def fake(service: Service) -> tuple[Org, FakeCRM]:
    crm = FakeCRM(contacts=contacts())
    return use_fake_crm(service, crm), crm


def to_check(org: Org) -> list[ledger.ToCheck]:
    return org.service.run(org.cloud_id, None, lambda c: org.service.records_to_check(c))


def settle(org: Org, number: int, landed: str | None) -> ledger.ToCheck:
    return org.service.run(
        org.cloud_id, None, lambda c: org.service.settle_record(c, number, landed, "admin")
    )


def test_a_file_the_crm_refuses_makes_the_record_partial_and_the_next_save_sends_only_it(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    sent: list[tuple[str, tuple[str, ...], str | None]] = []

    def refuses_the_notes(record: PlannedRecord) -> WriteOutcome:
        names = tuple(f.filename for f in record.files)
        sent.append((record.contact_id, names, record.existing_record_id))
        if record.contact_id == "102" and "notes été.txt" in names:
            return Saved(f"R{record.contact_id}", (MissingFile("notes été.txt", "too large"),))
        return Saved(f"R{record.contact_id}")

    crm.write_one = refuses_the_notes
    message = org.read("encoded-words.eml")
    first = org.file(message)
    assert status_of(first, "bob@members.example") == "partial"
    [bob] = [p for p in first.participants if p.contact_id == "102"]
    assert bob.record_id == "R102" and "notes été.txt: too large" in bob.reason
    [notes] = [f for f in first.files if f.name == "notes été.txt"]
    assert notes.status == "failed" and "too large" in notes.reason
    [entry] = [e for e in to_check(org) if e.contact_id == "102"]
    assert (entry.state, entry.record_id) == ("partial", "R102")
    assert entry.missing_files == (("notes été.txt", "too large"),)
    # The staff site and `records` show the record, with what it lacks.
    [record] = org.records("102")
    assert record.missing_files == (("notes été.txt", "too large"),)

    sent.clear()
    crm.write_one = None
    crm.written.clear()
    again = org.file(message)
    assert status_of(again, "bob@members.example") == "saved"
    assert status_of(again, "ANN@Members.Example") == "duplicate"
    [completion] = crm.written
    assert completion.existing_record_id == "R102"
    assert [f.filename for f in completion.files] == ["notes été.txt"]
    assert to_check(org) == []


def test_a_write_never_answered_is_unsure_until_settled_as_landed(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake

    def no_answer(record: PlannedRecord) -> WriteOutcome:
        return Unsure("the CRM did not answer in time", tuple(f.filename for f in record.files))

    crm.write_one = no_answer
    message = org.read("encoded-words.eml")
    first = org.file(message)
    assert status_of(first, "ANN@Members.Example") == "unsure"
    unsure = {e.contact_id: e for e in to_check(org)}
    assert unsure["101"].state == "unsure"
    assert unsure["101"].reason == "the CRM did not answer in time"
    crm.write_one = None
    later = org.file(message)  # never "duplicate" for what was never confirmed
    assert status_of(later, "ANN@Members.Example") == "unsure"
    assert crm.written == []
    settled = settle(org, unsure["101"].number, "R-777")
    # It landed, but its files were never sent: the record is partial, and the next save
    # sends the files alone, to that record.
    assert (settled.state, settled.record_id) == ("partial", "R-777")
    assert "admin found it in the fake CRM" in settled.reason
    completed = org.file(message)
    assert status_of(completed, "ANN@Members.Example") == "saved"
    [completion] = [r for r in crm.written if r.contact_id == "101"]
    assert completion.existing_record_id == "R-777" and len(completion.files) == 2
    assert all(e.contact_id != "101" for e in to_check(org))
    with pytest.raises(Conflict):  # saved: nothing left to settle
        settle(org, settled.number, "R-777")


def test_an_unsure_record_the_crm_does_not_hold_is_sent_again_by_the_next_save(
    fake: tuple[Org, FakeCRM],
) -> None:
    org, crm = fake
    crm.write_one = lambda record: Unsure("the CRM did not answer in time")
    message = org.read("text-only.eml")
    org.file(message)
    [ann] = [e for e in to_check(org) if e.contact_id == "101"]
    again = settle(org, ann.number, None)
    assert again.state == "failed" and "the next save of the message writes it" in again.reason
    crm.write_one = None
    later = org.file(message)
    assert status_of(later, "ann@members.example") == "saved"
    assert [r.contact_id for r in crm.written].count("101") == 1
    assert all(e.contact_id != "101" for e in to_check(org))


def test_settling_is_per_organisation(fake: tuple[Org, FakeCRM], service: Service) -> None:
    org, crm = fake
    crm.write_one = lambda record: Unsure("no answer")
    org.file(org.read("text-only.eml"))
    [entry, *_] = to_check(org)
    other = use_fake_crm(service, FakeCRM(contacts=contacts()))
    from mailfiler.errors import NotFound

    with pytest.raises(NotFound):
        settle(other, entry.number, "R1")
    assert [e.state for e in held(org) if e.id == entry.number] == ["unsure"]


def test_an_imis_file_refused_is_sent_alone_by_the_next_save(service: Service, site: Site) -> None:
    imis = new_imis_org(service, site)
    with service.unit() as session:  # a site that takes an interaction's files one by one
        accounts.set_crm(session, imis.cloud_id, mapping={
            "search_query": SEARCH_QUERY, "interaction_files_one_by_one": True,
        })  # fmt: skip
    message = imis.read("encoded-words.eml")
    # Each record is an entry and then its two files: the sixth write is the second
    # record's second file.
    site.standin.fail_writes = {6}
    first = imis.file(message)
    [partial] = [p for p in first.participants if p.status == "partial"]
    assert [p.status for p in first.participants].count("saved") == 2
    assert len(site.standin.attachments) == 5
    [lost] = [f for f in first.files if f.status == "failed"]
    assert "500" in lost.reason and lost.saved_as in partial.reason
    site.standin.fail_writes = set()
    again = imis.file(message)
    assert status_of(again, partial.address) == "saved"
    assert len(site.standin.interactions) == 3  # no entry written twice
    assert len(site.standin.attachments) == 6  # the lost file, once
    assert sorted(a["Name"] for a in site.standin.attachments).count(lost.saved_as) == 3
    assert {a["way"] for a in site.standin.attachments} == {"alone"}
