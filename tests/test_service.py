"""Filing through the service seam on both databases: idempotent, all-or-nothing, race-safe."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from mailfiler import accounts
from mailfiler.connectors.builtin import connector
from mailfiler.connectors.builtin.tables import Interaction, StoredAttachment
from mailfiler.errors import InvalidMessage, Refused, SystemFault
from mailfiler.service import Service, saving
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import Org, fixture_bytes, new_org, status_of
from tests.test_saving import dead_writer


def test_filing_writes_what_inspect_promised(org: Org) -> None:
    promised = org.inspect("encoded-words.eml")
    assert {p.status for p in promised.participants} == {"would_save"}
    assert org.records() == []
    done = org.file("encoded-words.eml")
    assert {p.status for p in done.participants} == {"saved"}
    assert {f.status for f in done.files} == {"saved"}
    stored = {r.contact_id: r for r in org.records()}
    assert set(stored) == {"101", "102", "103"}
    for p in done.participants:
        assert p.record_id == stored[p.contact_id or ""].id
    record = stored["103"]
    assert record.kind == "interaction"
    assert record.subject == "Réunion du comité à Zürich"
    assert record.to_line == "carla@xn--bcher-kva.example"
    assert (record.created_by, record.saved_by) == ("MANAGER", "jdoe")
    assert record.message_id == "<encoded-words-1@members.example>"
    assert [f.filename for f in record.attachments] == [
        "Ordre du jour – réunion de novembre.pdf", "notes été.txt",
    ]  # fmt: skip


def test_the_same_message_filed_again_is_a_duplicate(org: Org) -> None:
    first = org.file("ambiguous.eml")
    again = org.file("ambiguous.eml")
    assert status_of(again, "ann@members.example") == "duplicate"
    assert again.participants[1].record_id == first.participants[1].record_id
    assert len(org.records()) == 1
    # Filing it as the other kind is not a duplicate.
    assert status_of(org.file("ambiguous.eml", kind="activity"), "ann@members.example") == "saved"
    assert len(org.records()) == 2


def test_a_contact_added_by_search_is_a_duplicate_the_second_time_too(org: Org) -> None:
    chosen = frozenset({"101", "107"})  # 107 is not on the message: the user added them
    first = {p.contact_id: p for p in org.file("ambiguous.eml", contact_ids=chosen).participants}
    assert first["107"].status == "saved"
    again = {p.contact_id: p for p in org.file("ambiguous.eml", contact_ids=chosen).participants}
    assert again["107"].status == "duplicate"
    assert again["107"].record_id == first["107"].record_id


def test_a_message_without_message_id_is_recognised_by_its_headers(org: Org) -> None:
    org.file("no-message-id.eml")
    assert status_of(org.file("no-message-id.eml"), "ann@members.example") == "duplicate"


def test_duplicates_are_written_when_the_organisation_allows_them(org: Org) -> None:
    org.set_options(allow_duplicates=True)
    org.file("ambiguous.eml")
    again = org.file("ambiguous.eml")
    assert status_of(again, "ann@members.example") == "saved"
    assert len(org.records()) == 2


def test_a_save_lands_whole_or_not_at_all(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    real_insert = connector.insert
    inserted = []

    def fail_on_the_files(table, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The records are written; writing their files then fails.
        inserted.append(table)
        if table is StoredAttachment.__table__:
            raise SystemFault("the disk is full")
        return real_insert(table, *args, **kwargs)

    monkeypatch.setattr(connector, "insert", fail_on_the_files)
    failed = org.file("encoded-words.eml")
    assert [p.status for p in failed.participants] == ["failed"] * 3
    assert all("the disk is full" in p.reason for p in failed.participants)
    assert inserted[0] is Interaction.__table__ and inserted[-1] is StoredAttachment.__table__
    with org.service.unit() as session:  # the records written before the files: rolled back
        assert session.scalar(select(func.count()).select_from(Interaction).join(Organisation)
                              .where(Organisation.cloud_id == org.cloud_id)) == 0  # fmt: skip
    assert org.records() == []
    monkeypatch.undo()
    # Nothing of it is held in the ledger either: saving again writes all three.
    again = org.file("encoded-words.eml")
    assert [p.status for p in again.participants] == ["saved"] * 3
    assert len(org.records()) == 3


def test_a_save_that_died_before_the_ledger_heard_of_its_records_is_written_once_by_the_rerun(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed after the built-in CRM committed, before the ledger")

    monkeypatch.setattr(saving.ledger, "settle", killed)
    message = org.read("encoded-words.eml")
    with pytest.raises(KeyboardInterrupt):
        org.file(message)
    monkeypatch.undo()
    mine = (Organisation.cloud_id == org.cloud_id, Interaction.message_key == message.key)
    with org.service.unit() as session:  # the process that was writing is gone
        session.execute(
            update(FilingEntry)
            .where(FilingEntry.message_key == message.key)
            .values(writer=dead_writer())
        )
        written = dict(session.execute(select(Interaction.filing_key, Interaction.id)
                                       .join(Organisation).where(*mine)).all())  # fmt: skip
    assert len(written) == 3

    again = org.file(message)
    assert [p.status for p in again.participants] == ["saved"] * 3
    # The same records, named by the keys they were written under: none written twice.
    with org.service.unit() as session:
        count = select(func.count()).select_from(Interaction).join(Organisation).where(*mine)
        assert session.scalar(count) == 3
        entries = session.execute(
            select(FilingEntry.id, FilingEntry.record_id).where(
                FilingEntry.message_key == message.key,
                FilingEntry.organisation_id
                == select(Organisation.id)
                .where(Organisation.cloud_id == org.cloud_id)
                .scalar_subquery(),
            )
        ).all()
    assert {int(p.record_id or 0) for p in again.participants} == set(written.values())
    assert {str(key): int(record or 0) for key, record in entries} == written


def test_two_saves_of_one_message_at_once_write_it_once(service: Service) -> None:
    org = new_org(service)
    message = org.read("encoded-words.eml")
    results = []

    def save() -> None:
        results.append(org.file(message))

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(org.records()) == 3
    statuses = sorted(p.status for outcome in results for p in outcome.participants)
    assert statuses.count("saved") == 3 and statuses.count("duplicate") == 9


def test_a_disabled_user_cannot_file(org: Org) -> None:
    with org.service.unit() as session:
        tenant = accounts.tenant(session, org.cloud_id)
        accounts.set_disabled(accounts.user(session, tenant, "jdoe"), True)
    with pytest.raises(Refused, match="disabled"):
        org.file("ambiguous.eml")


def test_a_broken_message_is_refused_before_anything_is_written(org: Org) -> None:
    with pytest.raises(InvalidMessage):
        org.service.read(b"\x00\x01 not mail")
    assert org.records() == []


def test_messages_over_the_size_limit_are_refused(org: Org) -> None:
    from dataclasses import replace

    small = Service(replace(org.service.settings, max_message_bytes=100), org.service.database)
    with pytest.raises(InvalidMessage, match="larger than"):
        small.read(fixture_bytes("encoded-words.eml"))


def test_a_message_whose_text_holds_nul_bytes_is_filed_without_them(org: Org) -> None:
    raw = (
        b"From: Ann <ann@members.example>\r\nTo: bob@members.example\r\n"
        b"Subject: Minutes\x00 attached\r\nMessage-ID: <nul@example.org>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe minutes \x00are attached.\r\n"
    )
    message = org.service.read(raw)
    outcome = org.file(message, kind="activity")
    assert [p.status for p in outcome.participants] == ["saved", "saved"]
    [record, _] = org.records()
    assert record.kind == "activity" and "\x00" not in record.body
    assert "The minutes are attached." in record.body
