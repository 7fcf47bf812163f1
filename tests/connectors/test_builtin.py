"""The built-in CRM on SQLite and on PostgreSQL: lookups, contacts, records, files."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from sqlalchemy import delete, func, select

from mailfiler import accounts
from mailfiler.connectors.base import ContactRow
from mailfiler.connectors.builtin.connector import _BY_ADDRESS, IMPORT_BATCH, BuiltinCRM
from mailfiler.connectors.builtin.tables import Blob, Contact, StoredAttachment
from mailfiler.core.addresses import address_key
from mailfiler.errors import BadRequest, Conflict, NotFound, SystemFault
from mailfiler.service import Service
from mailfiler.storage.blobs import FolderBlobs
from mailfiler.storage.database import rows
from mailfiler.storage.tables import FileContent
from tests.conftest import Org, new_org

T = TypeVar("T")


def test_lookup_by_address_is_case_and_idn_insensitive(org: Org) -> None:
    keys = [address_key(a) for a in ("ANN.ARCHER@work.example", "carla@xn--bcher-kva.example",
                                     "shared@family.example", "nobody@x.example")]  # fmt: skip
    found = org.service.run(org.cloud_id, None, lambda c: c.crm.find_contacts(keys))
    assert [c.id for c in found[keys[0]]] == ["101"]
    assert [c.full_name for c in found[keys[1]]] == ["Carla Díaz"]
    assert [c.id for c in found[keys[2]]] == ["104", "105"]
    assert keys[3] not in found


def test_search_by_name_address_or_id_stays_in_the_organisation(service: Service) -> None:
    mine, other = new_org(service), new_org(service)
    service.run(
        other.cloud_id, None, lambda c: c.crm.create_contact("Ann Outsider", ["ann@out.example"])
    )
    found = service.run(mine.cloud_id, None, lambda c: c.crm.search("ann"))
    assert [c.id for c in found] == ["101"]
    assert found[0].emails == ("ann@members.example", "Ann.Archer@Work.Example")
    assert [
        c.id for c in service.run(mine.cloud_id, None, lambda c: c.crm.search("haddad.example"))
    ] == ["106"]
    assert [c.id for c in service.run(mine.cloud_id, None, lambda c: c.crm.search("107"))] == [
        "107"
    ]
    assert service.run(mine.cloud_id, None, lambda c: c.crm.search("100%_")) == []


def test_contacts_are_added_updated_and_checked(org: Org) -> None:
    def work(crm: BuiltinCRM) -> None:
        added = crm.create_contact("New Person", ["new@x.example"], "Org")
        assert added.id == "118"
        with pytest.raises(Conflict):
            crm.add_contact("Again", ["again@x.example"], contact_id="118")
        assert crm.upsert_contacts([ContactRow("118", "New Name", ("other@x.example",))]) == (0, 1)
        assert crm.contact("118").emails == ("other@x.example",)
        assert crm.find_contacts([address_key("new@x.example")]) == {}
        with pytest.raises(BadRequest, match="not an email address"):
            crm.upsert_contacts([ContactRow("119", "Bad", ("not-an-address",))])
        with pytest.raises(NotFound):
            crm.contact("9999")
        with pytest.raises(BadRequest, match="NUL"):  # a column PostgreSQL cannot fill
            crm.upsert_contacts([ContactRow("120", "Nul\x00Name", ("nul@x.example",))])

    org.service.run(org.cloud_id, None, lambda c: work(c.crm))


def test_new_contacts_are_numbered_after_the_highest_numbered_one(service: Service) -> None:
    org = new_org(service)  # contacts 101 to 117

    def create(crm: BuiltinCRM) -> str:
        return crm.create_contact("New Person", ["new@x.example"]).id

    def add(contact_id: str) -> Callable[[BuiltinCRM], object]:
        return lambda crm: crm.upsert_contacts([ContactRow(contact_id, "Imported", ())])

    def work(step: Callable[[BuiltinCRM], T]) -> T:
        return org.service.run(org.cloud_id, None, lambda c: step(c.crm))

    assert work(create) == "118"
    for not_a_number in ("A-9000", "²", "9" * 19):  # none of these is a contact number
        work(add(not_a_number))
    assert work(create) == "119"
    work(add("5000"))  # imported: new contacts are numbered after it
    assert work(create) == "5001"

    # A contact written straight into the database, around mailfiler: the
    # next number is taken already, so the numbering catches up with it.
    with org.service.unit() as session:
        pk = session.scalar(select(Contact.organisation_id).where(Contact.contact_id == "5001"))
        session.add(Contact(organisation_id=pk, contact_id="5002", full_name="Loaded",
                            full_name_key="loaded"))  # fmt: skip
    assert work(create) == "5003"
    assert work(create) == "5004"


def test_contacts_created_at_once_get_numbers_of_their_own(service: Service) -> None:
    org = new_org(service)
    made: list[str] = []

    def create(n: int) -> None:
        made.append(
            org.service.run(
                org.cloud_id, None, lambda c: c.crm.create_contact(f"P {n}", [f"p{n}@x.example"])
            ).id
        )

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [str(n) for n in range(118, 124)]


def test_a_file_sent_to_many_contacts_is_stored_once(org: Org) -> None:
    outcome = org.file("encoded-words.eml")
    assert sorted(p.status for p in outcome.participants) == ["saved", "saved", "saved"]
    records = org.records()
    assert len(records) == 3
    digests = {f.sha256 for r in records for f in r.attachments}
    assert len(digests) == 2  # two attachments, each stored once for three records

    def count(c):  # type: ignore[no-untyped-def]
        with org.service.unit(reading=True) as session:
            blobs = session.scalar(
                select(func.count()).select_from(Blob).where(Blob.sha256.in_(digests))
            )
            rows = session.scalar(
                select(func.count())
                .select_from(StoredAttachment)
                .where(
                    StoredAttachment.sha256.in_(digests),
                    StoredAttachment.organisation_id == c.tenant.id,
                )
            )
        return blobs, rows

    assert org.service.run(org.cloud_id, None, count) == (2, 6)
    with org.service.unit(reading=True) as session:
        assert all(org.service.blobs.get(session, digest) for digest in digests)


def test_attachments_download_only_within_their_organisation(service: Service) -> None:
    mine, other = new_org(service), new_org(service)
    mine.file("encoded-words.eml")
    file = mine.records()[0].attachments[0]
    stored, data = service.run(mine.cloud_id, None, lambda c: c.records.attachment(file.id))
    assert stored.filename == file.filename and data.startswith(b"%PDF")
    with pytest.raises(NotFound):
        service.run(other.cloud_id, None, lambda c: c.records.attachment(file.id))


def test_a_missing_content_names_the_file_and_its_record_never_a_server_path(
    service: Service,
) -> None:
    mine = new_org(service)
    mine.file("encoded-words.eml")
    record = mine.records()[0]
    file = record.attachments[0]
    with service.unit() as session:  # lost: a folder not copied, a row deleted by hand
        if isinstance(service.blobs, FolderBlobs):
            service.blobs.path(file.sha256).unlink()
        else:
            session.execute(delete(FileContent).where(FileContent.sha256 == file.sha256))
    with pytest.raises(NotFound) as missing:
        service.run(mine.cloud_id, None, lambda c: c.records.attachment(file.id))
    said = str(missing.value)
    assert file.filename in said and f"Interaction {record.id}" in said
    assert str(service.settings.blobs_dir) not in said and "/" not in said


def test_records_read_back_newest_first_and_paged(org: Org) -> None:
    org.file("text-only.eml")
    org.file("no-message-id.eml")
    org.file("inline-image.eml", kind="activity")
    newest = org.records("101")
    assert [r.subject for r in newest] == [
        "Newsletter draft", "A note without an ID", "Plain text with <angle> brackets & ampersands",
    ]  # fmt: skip
    paged = org.service.run(
        org.cloud_id, None, lambda c: c.records.records("101", limit=1, offset=1)
    )
    assert [r.subject for r in paged] == ["A note without an ID"]
    assert org.service.run(org.cloud_id, None, lambda c: c.records.count_records("101")) == 3


def test_a_database_failure_in_a_quick_query_is_a_system_fault(service: Service) -> None:
    with pytest.raises(SystemFault, match="the database failed"), service.unit() as session:
        rows(session, _BY_ADDRESS[service.database.dialect == "postgresql"], {"keys": ["x"]})


def test_search_finds_what_the_screen_shows(service: Service) -> None:
    org = new_org(service)
    service.run(
        org.cloud_id,
        None,
        lambda c: c.crm.create_contact("Åsa Ångström", ["asa@lab.example"], "Øresund Institut"),
    )

    def ids(query: str) -> list[str]:
        return [c.id for c in service.run(org.cloud_id, None, lambda c: c.crm.search(query))]

    assert ids("carla@bücher.example") == ["103"]  # the address as shown
    assert ids("carla@xn--bcher-kva.example") == ["103"]  # and as it is sent
    assert ids("Bücher") == ["103"] and ids("bucher") == ["103"]  # her organisation
    assert ids("Angstrom") == ids("ÅNGSTRÖM") == ids("ångström") == ["118"]
    assert ids("oresund") == ["118"]
    assert ids("Díaz") == ids("diaz") == ["103"]


def test_search_follows_changes_to_a_contact(service: Service) -> None:
    org = new_org(service)

    def ids(query: str) -> list[str]:
        return [c.id for c in service.run(org.cloud_id, None, lambda c: c.crm.search(query))]

    assert ids("archer") == ["101"]
    with service.unit() as session:
        crm = BuiltinCRM(session, accounts.tenant(session, org.cloud_id).id, service.blobs)
        crm.upsert_contacts([ContactRow("101", "Ann Bowman", ("ann@members.example",))])
    assert ids("archer") == [] and ids("bowman") == ["101"]


def test_an_import_of_many_batches_adds_then_updates_every_contact_with_its_search(
    service: Service,
) -> None:
    org = new_org(service, with_contacts=False)
    many = 2 * IMPORT_BATCH + 5  # two whole batches and a part of one

    def rows(name: str, domain: str) -> list[ContactRow]:
        return [
            ContactRow(str(5000 + n), f"{name} {n}", (f"m{n}@{domain}", f"M{n}@{domain}"))
            for n in range(many)
        ]

    said: list[int] = []
    assert service.import_contacts(org.cloud_id, rows("Member", "old.example"), said.append) == (
        many, 0,
    )  # fmt: skip
    assert said == [IMPORT_BATCH, 2 * IMPORT_BATCH, many]
    assert service.import_contacts(org.cloud_id, rows("Renamed", "new.example")) == (0, many)

    def crm_says(step: Callable[[BuiltinCRM], T]) -> T:
        return service.run(org.cloud_id, None, lambda c: step(c.crm))

    last = str(5000 + many - 1)
    assert crm_says(lambda crm: crm.find_contacts({f"m{many - 1}@old.example"})) == {}
    found = crm_says(lambda crm: crm.find_contacts({f"m{many - 1}@new.example"}))
    assert [c.id for c in found[f"m{many - 1}@new.example"]] == [last]
    assert crm_says(lambda crm: crm.contact(last).emails) == (f"m{many - 1}@new.example",)
    assert [c.id for c in crm_says(lambda crm: crm.search(f"renamed {many - 1}"))] == [last]
    assert crm_says(lambda crm: crm.search(f"member {many - 1}")) == []
    assert crm_says(lambda crm: crm.create_contact("Next", ["next@x.example"]).id) == str(
        5000 + many
    )
