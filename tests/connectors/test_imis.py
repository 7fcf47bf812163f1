"""The iMIS connector against the stand-in site: filing, sign-in, and what goes wrong."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest

from mailfiler.connectors.imis.mapping import IMIS_EMAIL_ACTIVITY
from mailfiler.core.plan import SavePlan
from mailfiler.errors import ConnectorUnavailable, UnknownUser
from mailfiler.service import Service
from tests.conftest import Org, status_of
from tests.imis_site import Site, imis_site, new_imis_org, recorded_pauses, set_site


@pytest.fixture
def imis(service: Service, site: Site) -> Org:
    return new_imis_org(service, site)


@pytest.fixture(autouse=True)
def pauses() -> Iterator[list[float]]:
    """Every pause for iMIS (Retry-After, back-off) is recorded, not waited."""
    with recorded_pauses() as recorded:
        yield recorded


def saved(outcome: SavePlan) -> dict[str, str | None]:
    return {
        p.contact_id or p.address: p.record_id for p in outcome.participants if p.status == "saved"
    }


def test_an_interaction_is_written_to_the_communication_log_with_its_files(
    imis: Org, site: Site
) -> None:
    outcome = imis.file("encoded-words.eml")
    assert set(saved(outcome)) == {"101", "102", "103"}
    logs = site.standin.interactions
    assert {entry["PartyId"] for entry in logs} == {"101", "102", "103"}
    entry = logs[0]
    assert entry["Subject"] == "Réunion du comité à Zürich"
    assert entry["MessageType"] == 0  # Email, as an integer
    assert entry["Address"] == "ANN@Members.Example"  # the address Ann was found by
    # The whole To and Cc go into the body's header block, then the message's HTML.
    assert "<b>To and Cc:</b> carla@xn--bcher-kva.example; BOB@MEMBERS.EXAMPLE" in entry["Html"]
    assert "Bonjour" in entry["Html"]
    assert {a["way"] for a in site.standin.attachments} == {"nested"}  # in the one write
    names = sorted(a["Name"] for a in site.standin.attachments)
    assert names == sorted(["Ordre du jour – réunion de novembre.pdf", "notes été.txt"] * 3)
    # Written as the background account; the ledger knows who saved it.
    assert set(site.standin.writers) == {"manager"}
    again = imis.file("encoded-words.eml")
    assert {p.status for p in again.participants} == {"duplicate"}
    assert len(site.standin.interactions) == 3


def test_an_activity_is_written_with_its_fields_and_no_files(imis: Org, site: Site) -> None:
    review = imis.inspect("encoded-words.eml", kind="activity")
    assert {f.status for f in review.files} == {"excluded"}
    assert all("iMIS cannot attach files to an Activity" in f.reason for f in review.files)
    outcome = imis.file("encoded-words.eml", kind="activity")
    assert len(saved(outcome)) == 3
    activity = site.standin.activities[0]
    assert activity["ACTIVITY_TYPE"] == "EMAIL"
    assert activity["DESCRIPTION"] == "Réunion du comité à Zürich"
    assert activity["NOTE"].startswith("Bonjour à tous")
    # The message's Date (08:00 +01:00), as the site's clock (UTC by default) shows it.
    assert activity["TRANSACTION_DATE"] == "2026-11-02T07:00:00"
    assert site.standin.attachments == []


def test_one_token_serves_every_write_until_it_expires(imis: Org, site: Site) -> None:
    imis.file("encoded-words.eml")
    imis.file("text-only.eml")
    imis.file("encoded-words.eml", kind="activity")
    assert site.standin.token_requests.count("MANAGER") == 1


def test_the_cli_user_of_an_imis_organisation_is_the_saver(imis: Org, site: Site) -> None:
    imis.user = "admin"
    imis.file("text-only.eml")
    [entry] = [r for r in imis.records("101")]
    assert entry.saved_by == "admin" and entry.created_by == "MANAGER"
    assert entry.link is None or "101" in entry.link
    imis.user = "ghost"
    with pytest.raises(UnknownUser):
        imis.file("text-only.eml")


def test_a_500_on_the_third_of_five_contacts_says_which_were_saved(imis: Org, site: Site) -> None:
    message = imis.service.read(
        b"From: ann@members.example\r\nTo: bob@members.example, grace@ito.example, "
        b"hugo@janssen.example, ines@kovac.example\r\nSubject: five\r\n"
        b"Message-ID: <five@members.example>\r\n\r\nHello.\r\n"
    )
    site.standin.fail_writes = {3}
    first = imis.file(message)
    statuses = [p.status for p in first.participants]
    assert statuses == ["saved", "saved", "failed", "saved", "saved"]
    assert "500" in first.participants[2].reason
    site.standin.fail_writes = set()
    second = imis.file(message)
    assert [p.status for p in second.participants] == ["duplicate"] * 2 + ["saved"] + [
        "duplicate"
    ] * 2
    assert len(site.standin.interactions) == 5


def test_a_write_a_gateway_answered_for_is_looked_for_never_sent_again(
    imis: Org, site: Site
) -> None:
    """A proxy in front of iMIS answers 504 after the site did the write: whether it landed
    is not known from the answer, so iMIS is asked (it holds it: saved, with its key), and
    it is never taken as refused and written again."""
    site.standin.gateway_after_next_write = 504
    first = imis.file("text-only.eml", contact_ids=frozenset({"101"}))
    [landed] = site.standin.interactions
    [ann] = [p for p in first.participants if p.contact_id == "101"]
    assert (ann.status, ann.record_id) == ("saved", landed["Id"])
    again = imis.file("text-only.eml", contact_ids=frozenset({"101"}))
    assert status_of(again, "ann@members.example") == "duplicate"
    assert len(site.standin.interactions) == 1  # never twice


def test_a_write_iMIS_refuses_says_which_field_and_why(imis: Org, site: Site) -> None:
    """A refused write's ValidationResultsData reaches the user as the field and its message:
    failed (nothing written; the next save may write it), never "iMIS is unavailable"."""
    # A type set up in mailfiler, deleted in iMIS since.
    gone = replace(IMIS_EMAIL_ACTIVITY, code="GONE", name="Gone")
    imis.set_options(activity_types=(gone,), default_activity_type="GONE")
    outcome = imis.file("text-only.eml", kind="activity", activity_type="GONE")
    [ann] = [p for p in outcome.participants if p.contact_id == "101"]
    assert ann.status == "failed"
    assert (
        "ACTIVITY_TYPE" in ann.reason and "GONE is not an activity type of this site" in ann.reason
    )
    assert site.standin.activities == []


def test_throttling_is_waited_out(imis: Org, site: Site, pauses: list[float]) -> None:
    site.standin.throttle_next = 2  # answered 429 with Retry-After: 1
    assert status_of(imis.file("text-only.eml"), "ann@members.example") == "saved"
    assert pauses == [1.0, 1.0]


def test_a_refused_background_password_is_one_sentence_and_a_warning(
    imis: Org, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.standin.background_refused = True
    from mailfiler.connectors.imis.client import forget_tokens

    forget_tokens()
    with (
        caplog.at_level(logging.WARNING, logger="mailfiler.imis"),
        pytest.raises(ConnectorUnavailable) as refused,
    ):
        imis.file("text-only.eml")  # the contacts are looked up as the background account
    # Staff read one sentence they can act on; the log says what to do.
    assert (
        str(refused.value) == "iMIS refused mailfiler's background account: tell your administrator"
    )
    assert "refused the background account MANAGER" in caplog.text
    assert "--background-password-stdin" in caplog.text
    assert site.standin.interactions == []


def quick(service: Service, org: Org) -> None:
    """Half a second of patience with iMIS, for the tests of a slow site."""
    from sqlalchemy import select

    from mailfiler.storage.tables import Organisation

    with service.unit() as session:
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == org.cloud_id)
        ).one()
        row.crm_settings = {**row.crm_settings, "mapping": {
            **row.crm_settings.get("mapping", {}),
            "timeout_seconds": 0.5, "write_timeout_seconds": 0.5, "retries": 1,
        }}  # fmt: skip


def test_a_site_that_cannot_be_reached_is_one_sentence(
    imis: Org, pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    set_site(imis, "http://127.0.0.1:9")  # nothing listens there
    with (
        caplog.at_level(logging.WARNING, logger="mailfiler.imis"),
        pytest.raises(ConnectorUnavailable) as failed,
    ):
        imis.file("text-only.eml")
    # One sentence, naming no port state; the detail is in the log.
    assert str(failed.value) == "mailfiler cannot reach your iMIS site: tell your administrator"
    assert "ConnectError" in caplog.text
    # Tried again after pauses, within a person's patience (the default: 10 s in all).
    assert pauses and sum(pauses) <= 10


def test_a_slow_read_times_out_with_a_reason(service: Service, imis: Org, site: Site) -> None:
    quick(service, imis)
    site.standin.slow_seconds = 1.5
    with pytest.raises(ConnectorUnavailable, match="cannot reach your iMIS site"):
        imis.file("text-only.eml")


def test_an_address_changed_behind_mailfilers_back_never_gets_the_password(
    service: Service, imis: Org, site: Site
) -> None:
    from sqlalchemy import select

    from mailfiler.storage.tables import Organisation

    with imis_site() as elsewhere:
        with service.unit() as session:
            row = session.scalars(
                select(Organisation).where(Organisation.cloud_id == imis.cloud_id)
            ).one()
            row.crm_settings = {**row.crm_settings, "url": elsewhere.url}  # not by set_crm
        with pytest.raises(ConnectorUnavailable, match="set for another iMIS address"):
            imis.file("text-only.eml")
        assert elsewhere.standin.token_requests == []  # the password never left


def test_a_write_that_may_have_landed_is_never_sent_again(
    service: Service, imis: Org, site: Site
) -> None:
    quick(service, imis)
    site.standin.slow_writes = 2.0  # iMIS writes it, but answers after the client gave up
    first = imis.file("text-only.eml", contact_ids=frozenset({"101"}))
    [ann] = [p for p in first.participants if p.contact_id == "101"]
    assert ann.status == "unsure" and "may have been written" in ann.reason
    # Saved again at once: iMIS, asked, cannot tell yet (it may still be writing it).
    second = imis.file("text-only.eml", contact_ids=frozenset({"101"}))
    [ann] = [p for p in second.participants if p.contact_id == "101"]
    assert ann.status == "unsure" and "may have been written" in ann.reason
    import time

    deadline = time.monotonic() + 10
    while not site.standin.interactions and time.monotonic() < deadline:
        time.sleep(0.05)  # the first write lands in iMIS
    time.sleep(0.5)
    assert len(site.standin.interactions) == 1  # not posted a second time


def test_lists_are_read_page_after_page(service: Service, imis: Org, site: Site) -> None:
    from sqlalchemy import select

    from mailfiler.storage.tables import Organisation

    with service.unit() as session:
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == imis.cloud_id)
        ).one()
        row.crm_settings = {**row.crm_settings, "mapping": {"page_size": 1}}
    outcome = imis.inspect("ambiguous.eml")  # the shared address: two parties, two pages
    [shared] = [p for p in outcome.participants if p.address == "shared@family.example"]
    assert [c.id for c in shared.contacts] == ["104", "105"]
    parties = [
        (offset, limit) for path, offset, limit in site.standin.pages if path == "/api/Party"
    ]
    assert parties[:3] == [(0, 1), (1, 1), (2, 1)]


def test_a_read_answered_500_is_tried_again(imis: Org, site: Site, pauses: list[float]) -> None:
    site.standin.fail_next_reads = 2
    assert status_of(imis.file("text-only.eml"), "ann@members.example") == "saved"
    assert len(pauses) == 2 and pauses[0] < pauses[1]  # backing off


def test_a_site_that_creates_no_log_from_a_nested_one_says_so_and_keeps_nothing_half_written(
    imis: Org, site: Site
) -> None:
    """Unknown whether EMS creates the parent log from a nested CommunicationLog (the 2017
    code only links an existing one): on a site that does not, the save fails in one
    sentence naming the field, writes nothing, and the next save may write it."""
    site.standin.nested_log_created = False
    outcome = imis.file("text-only.eml", contact_ids=frozenset({"101"}))
    [ann] = [p for p in outcome.participants if p.contact_id == "101"]
    assert ann.status == "failed" and "CommunicationLogId" in ann.reason
    assert site.standin.interactions == [] and site.standin.attachments == []
