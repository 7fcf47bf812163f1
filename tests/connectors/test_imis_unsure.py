"""A write whose answer never came: mailfiler asks iMIS whether it landed (its contact's
entries, by subject and time of the write), on the next save and from the records to check."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mailfiler.service import Service
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import Org, status_of
from tests.imis_site import Site, new_imis_org
from tests.imis_standin import _net_date
from tests.test_cli import Cli
from tests.test_cli_imis import invoke


@pytest.fixture
def imis(service: Service, site: Site) -> Org:
    org = new_imis_org(service, site)
    with service.unit() as session:  # writes given up after half a second
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == org.cloud_id)
        ).one()
        row.crm_settings = {**row.crm_settings, "mapping": {
            **row.crm_settings["mapping"], "write_timeout_seconds": 0.5, "retries": 1,
        }}  # fmt: skip
    return org


def entries(org: Org, contact_id: str) -> list[FilingEntry]:
    with org.service.unit() as session:
        return list(
            session.scalars(
                select(FilingEntry)
                .join(Organisation, Organisation.id == FilingEntry.organisation_id)
                .where(Organisation.cloud_id == org.cloud_id, FilingEntry.contact_id == contact_id)
            )
        )


def unsure(
    org: Org, contact_id: str, subject: str, key: str, sent_at: datetime, **more: Any
) -> None:
    """An entry as a save leaves one whose write was never answered."""
    with org.service.unit() as session:
        organisation_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == org.cloud_id)
        )
        session.add(
            FilingEntry(
                organisation_id=organisation_id, contact_id=contact_id,
                kind=more.get("kind", "interaction"), message_key=key, copy=0, state="unsure",
                subject=subject, saved_by="jdoe",
                reserved_at=sent_at, sending_at=sent_at, reason="iMIS did not answer",
                activity_type=more.get("activity_type"), activity_date=more.get("activity_date"),
            )
        )  # fmt: skip


def logged(party_id: str, subject: str, created: datetime) -> dict[str, Any]:
    """An entry iMIS holds, as the stand-in keeps one it was sent (created when iMIS says)."""
    return {
        "Id": f"log-{party_id}-{created:%H%M}", "CommunicationLogId": "1", "PartyId": party_id,
        "UniformId": "", "Address": "", "MessageType": 0, "Subject": subject, "Html": "",
        "Text": None, "Status": 0, "CreatedOn": _net_date(created), "CreatedBy": "MANAGER",
        "sent": {},
    }  # fmt: skip


def test_a_write_never_answered_that_landed_is_found_by_the_next_save(
    imis: Org, site: Site
) -> None:
    site.standin.slow_writes = 1.5  # iMIS writes it, and answers after mailfiler gave up
    message = imis.read("encoded-words.eml")
    first = imis.file(message, contact_ids=frozenset({"101"}))
    assert status_of(first, "ANN@Members.Example") == "unsure"
    deadline = time.monotonic() + 10
    while not site.standin.interactions and time.monotonic() < deadline:
        time.sleep(0.05)  # the write lands in iMIS
    site.standin.slow_writes = 0
    [landed] = site.standin.interactions
    again = imis.file(message, contact_ids=frozenset({"101"}))
    [ann] = [p for p in again.participants if p.contact_id == "101"]
    assert (ann.status, ann.record_id) == ("duplicate", landed["Id"])
    assert len(site.standin.interactions) == 1  # never posted a second time
    # Its files were in the same write: nothing is missing.
    [entry] = entries(imis, "101")
    assert (entry.state, entry.record_id, entry.missing_files) == ("saved", landed["Id"], None)


def test_a_write_never_answered_that_never_landed_is_written_by_the_next_save(
    imis: Org, site: Site
) -> None:
    message = imis.read("text-only.eml")
    long_ago = datetime.now(UTC) - timedelta(hours=1)  # the write is surely over
    unsure(imis, "101", message.subject, message.key, long_ago)
    outcome = imis.file(message)
    assert status_of(outcome, "ann@members.example") == "saved"
    assert [i["PartyId"] for i in site.standin.interactions].count("101") == 1


def test_imis_is_asked_from_the_records_to_check_and_says_when_it_cannot_tell(
    imis: Org, site: Site, database_url: str, tmp_path: Any
) -> None:
    message = imis.read("text-only.eml")
    unsure(imis, "101", message.subject, message.key, datetime.now(UTC))  # just sent
    [entry] = entries(imis, "101")
    mf = Cli(database_url, imis.service.settings.blobs_dir)
    asked = invoke(mf, "settle", str(entry.id), "--cloud-id", imis.cloud_id, "--ask-crm", "--json")
    assert asked.exit_code == 0, asked.output
    report = json.loads(asked.stdout)
    assert report["status"] == "unsure" and "may still be writing it" in report["crm_said"]
    # An activity iMIS holds (of that type, description and date for the contact) is found;
    # an older one of another message with the same description is not taken for it.
    board = {"ACTIVITY_TYPE": "EMAIL", "PartyId": "102", "DESCRIPTION": "Board papers"}
    site.standin.activities.append(
        {**board, "SEQN": "776", "TRANSACTION_DATE": "2026-10-01T09:00:00"}
    )
    site.standin.activities.append(
        {**board, "SEQN": "777", "TRANSACTION_DATE": "2026-11-02T08:00:00"}
    )
    unsure(imis, "102", "Board papers", "<board@x>", datetime.now(UTC), kind="activity",
           activity_type="EMAIL", activity_date="2026-11-02T08:00:00+00:00")  # fmt: skip
    [activity] = entries(imis, "102")
    found = invoke(mf, "settle", str(activity.id), "--cloud-id", imis.cloud_id, "--ask-crm")
    assert found.exit_code == 0, found.output
    assert "now saved as 777" in found.output
    assert [e.state for e in entries(imis, "102")] == ["saved"]


def test_an_activity_iMIS_cannot_tell_apart_stays_for_someone_to_check(
    imis: Org, site: Site, database_url: str
) -> None:
    """Kept before its date was (no date to match): one of that type and description may be
    an older message's, so it is never taken as this one, nor written again."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)  # the write is surely over
    site.standin.activities.append({"SEQN": "776", "ACTIVITY_TYPE": "EMAIL", "PartyId": "102",
                                    "DESCRIPTION": "Board papers",
                                    "TRANSACTION_DATE": "2026-10-01T09:00:00"})  # fmt: skip
    unsure(imis, "102", "Board papers", "<board@x>", long_ago, kind="activity",
           activity_type="EMAIL")  # fmt: skip
    [activity] = entries(imis, "102")
    mf = Cli(database_url, imis.service.settings.blobs_dir)
    asked = invoke(
        mf, "settle", str(activity.id), "--cloud-id", imis.cloud_id, "--ask-crm", "--json"
    )
    report = json.loads(asked.stdout)
    assert report["status"] == "unsure" and "cannot tell apart" in report["crm_said"]


def test_an_entry_with_the_subject_hours_before_the_save_is_not_taken_as_not_written(
    imis: Org, site: Site
) -> None:
    """A site time zone set wrong moves iMIS's times by hours: an entry with the subject
    within those hours before the save may be this one, so the save does not write again."""
    message = imis.read("text-only.eml")
    sent = datetime.now(UTC) - timedelta(hours=1)
    unsure(imis, "101", message.subject, message.key, sent)
    imis_said = (sent - timedelta(hours=3)).replace(tzinfo=None)  # as a site 3 hours off says it
    site.standin.interactions.append(logged("101", message.subject, imis_said))
    outcome = imis.file(message)
    assert status_of(outcome, "ann@members.example") == "unsure"
    assert [i["PartyId"] for i in site.standin.interactions].count("101") == 1  # not again
