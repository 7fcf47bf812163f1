"""One contract, the same tests, for every connector: the built-in CRM on SQLite and on
PostgreSQL, iMIS (against the stand-in site), and the fake one the service's tests use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from mailfiler.connectors.base import Connector, Failed, Saved
from mailfiler.connectors.fake import FakeCRM
from mailfiler.core.addresses import address_key
from mailfiler.core.match import Contact
from mailfiler.core.plan import PlannedFile, PlannedRecord
from mailfiler.errors import NotFound
from tests.conftest import fixture_contacts, new_org, service_for
from tests.imis_site import imis_site, new_imis_org


@pytest.fixture(params=["builtin-sqlite", "builtin-postgresql", "imis", "fake"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Connector]:
    kind = str(request.param)
    if kind == "fake":
        yield FakeCRM(
            contacts=[Contact(r.contact_id, r.full_name, r.organization, r.emails)
                      for r in fixture_contacts()]
        )  # fmt: skip
        return
    database = "postgresql" if kind.endswith("postgresql") else "sqlite"
    url = request.getfixturevalue(f"{database}_url")
    service = service_for(url, tmp_path_factory.getbasetemp() / f"blobs-{database}")
    with ExitStack() as stack:
        if kind == "imis":
            org = new_imis_org(service, stack.enter_context(imis_site()))
        else:
            org = new_org(service)
        context = stack.enter_context(service.context(org.cloud_id))
        yield context.crm


def record(contact_id: str, kind: str = "interaction", **values: object) -> PlannedRecord:
    fields = {"DESCRIPTION": "Renewal", "NOTE": "Please renew."} if kind == "activity" else {}
    return PlannedRecord(
        kind="activity" if kind == "activity" else "interaction",
        contact_id=contact_id,
        subject="Renewal",
        to_line="ann@members.example" if kind == "interaction" else None,
        body="<p>Please renew.</p>",
        activity_type="EMAIL" if kind == "activity" else None,
        fields=fields,
        files=(PlannedFile("renewal.pdf", "application/pdf", b"%PDF-1.4 renewal"),)
        if kind == "interaction"
        else (),
        message_key=f"mid:contract-{values.get('key', 'one')}@example.org",
        message_id=f"<contract-{values.get('key', 'one')}@example.org>",
        created_by="MANAGER",
        saved_by="jdoe",
        address="ann@members.example" if kind == "interaction" else "",
    )


def test_contacts_are_found_by_their_addresses_as_written(crm: Connector) -> None:
    found = crm.find_contacts(
        {"ANN.ARCHER@work.example", "carla@xn--bcher-kva.example", "shared@family.example",
         "nobody@nowhere.example"}
    )  # fmt: skip
    assert [c.id for c in found[address_key("ann.archer@work.example")]] == ["101"]
    assert [c.full_name for c in found[address_key("carla@bücher.example")]] == ["Carla Díaz"]
    assert [c.id for c in found["shared@family.example"]] == ["104", "105"]
    assert "nobody@nowhere.example" not in found


def test_contacts_are_searched_by_name_and_address(crm: Connector) -> None:
    assert [c.id for c in crm.search("archer")] == ["101"]
    assert "106" in [c.id for c in crm.search("haddad.example")]
    assert crm.search("no-such-person-anywhere") == []


def test_one_contact_is_read_with_its_addresses(crm: Connector) -> None:
    ann = crm.contact("101")
    assert (ann.full_name, ann.organization) == ("Ann Archer", "Archer & Co")
    assert {address_key(e) for e in ann.emails} >= {"ann@members.example"}
    with pytest.raises(NotFound):
        crm.contact("99999")


def test_a_new_contact_can_be_created_and_is_then_found(crm: Connector) -> None:
    zoe = crm.create_contact("Zoe New", ["zoe@new.example"], "New Ltd")
    assert zoe.id and zoe.full_name == "Zoe New"
    assert [c.id for c in crm.find_contacts({"zoe@new.example"})["zoe@new.example"]] == [zoe.id]


def test_the_activity_types_offered_have_labelled_fields(crm: Connector) -> None:
    types = {t.code: t for t in crm.activity_types()}
    assert "EMAIL" in types and "DUES" not in types
    names = set(types["EMAIL"].field_names())
    assert {"DESCRIPTION", "NOTE", "TRANSACTION_DATE"} <= names
    assert all(f.label for f in types["EMAIL"].fields)


def test_records_are_written_one_outcome_each(crm: Connector) -> None:
    outcomes = crm.write([record("101"), record("102")])
    assert [type(o) for o in outcomes] == [Saved, Saved]
    assert len({o.record_id for o in outcomes if isinstance(o, Saved)}) == 2
    [activity] = crm.write([record("103", "activity", key="two")])
    assert isinstance(activity, Saved) and activity.record_id


def test_a_record_for_a_contact_the_crm_lacks_is_failed_with_a_reason(crm: Connector) -> None:
    [outcome] = crm.write([record("99999", key="three")])
    assert isinstance(outcome, Failed) and outcome.reason
