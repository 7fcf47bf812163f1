"""The iMIS wire format as ASI's own libraries show it, against the strict stand-in: contacts
by address (the filter, or FindByEmail where it sees only primary addresses), the search's
query and columns, roles, new persons, typed Activity fields and files on an Activity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from mailfiler.connectors.base import Connector, Saved
from mailfiler.connectors.imis.accounts import RolesUnread, describe
from mailfiler.connectors.imis.connector import ImisCRM
from mailfiler.core.addresses import address_key
from mailfiler.core.plan import PlannedFile, PlannedRecord
from mailfiler.errors import BadRequest, SystemFault
from mailfiler.service import Service
from mailfiler.storage.tables import Organisation
from tests.conftest import Org
from tests.imis_site import SEARCH_QUERY, Site, new_imis_org


@pytest.fixture
def imis(service: Service, site: Site) -> Org:
    return new_imis_org(service, site)


def connector(org: Org) -> Connector:
    """The organisation's connector as it is set up now (it holds no database session)."""
    with org.service.context(org.cloud_id) as context:
        return context.crm


def set_crm(org: Org, mapping: dict[str, Any] | None = None, site: Any = None) -> None:
    with org.service.unit() as session:
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == org.cloud_id)
        ).one()
        settings = dict(row.crm_settings)
        if mapping is not None:
            settings["mapping"] = {**settings.get("mapping", {}), **mapping}
        if site is not None:
            settings["site"] = site
        row.crm_settings = settings


def test_a_site_whose_filter_sees_only_primary_addresses_is_asked_with_find_by_email(
    imis: Org, site: Site
) -> None:
    site.standin.email_filter_primary_only = True  # as the notes fear some sites do
    work = "Ann.Archer@Work.Example"  # Ann's second address
    assert connector(imis).find_contacts({work}) == {}
    set_crm(imis, {"find_by_email": True})
    found = connector(imis).find_contacts({work})
    assert [c.id for c in found[address_key(work)]] == ["101"]
    assert ("POST", "/api/Party/_execute") in site.standin.requests


def test_the_search_runs_the_query_set_up_with_a_plain_value_and_finds_its_columns(
    imis: Org, site: Site
) -> None:
    found = connector(imis).search("archer")
    assert [(c.id, c.full_name, c.emails) for c in found] == [
        ("101", "Ann Archer", ("ann@members.example",))
    ]
    [(_, path, parameters)] = site.standin.iqa_runs
    assert (path, parameters) == (SEARCH_QUERY, ["archer"])  # no "contains:" operator


def test_a_search_not_set_up_or_not_in_imis_says_what_to_set(imis: Org, site: Site) -> None:
    set_crm(imis, {"search_query": ""})
    with pytest.raises(BadRequest, match=r"imis\.search_query"):
        connector(imis).search("archer")
    set_crm(imis, {"search_query": "$/Nowhere/Contacts"})
    with pytest.raises(BadRequest, match="does not exist in iMIS") as refused:
        connector(imis).search("archer")
    assert not isinstance(refused.value, SystemFault)  # a 400 from iMIS is not "unavailable"


def test_roles_come_from_user_security_where_the_user_says_none(imis: Org, site: Site) -> None:
    assert site.standin.user_roles_null  # UserData.Roles is null, as reported for EMS
    crm = connector(imis)
    assert isinstance(crm, ImisCRM)
    assert describe(crm.client, "admin") == ("admin", "admin@acme.example", ("SysAdmin", "Staff"))


class _NoRoles:
    """A background account's client for a site that says no roles anywhere."""

    site = "https://acme.example"

    def get(self, path: str, params: Any = None, **_: Any) -> Any:
        if path == "/api/User":
            return {"Items": {"$values": [{"UserName": "jdoe", "Roles": None}]}}
        return {"Items": {"$values": []}}


def test_roles_that_cannot_be_read_are_said_never_taken_as_none() -> None:
    with pytest.raises(RolesUnread, match="cannot read your roles"):
        describe(_NoRoles(), "jdoe")  # type: ignore[arg-type]


def test_a_new_contact_s_further_addresses_take_the_site_s_address_purpose(
    imis: Org, site: Site
) -> None:
    # No purpose set: only the first address is kept, and the pane says so before.
    assert "Only the first email address is kept" in connector(imis).capabilities.new_contact_note
    one = connector(imis).create_contact("Zoe New", ["zoe@new.example", "zoe@home.example"])
    assert site.standin.parties[one.id].emails == ["zoe@new.example"]
    set_crm(imis, {"new_address_purpose": "Home"})
    assert "first email address" not in connector(imis).capabilities.new_contact_note
    two = connector(imis).create_contact("Yan New", ["yan@new.example", "yan@home.example"])
    party = site.standin.parties[two.id]
    assert (party.emails, party.email_types) == (
        ["yan@new.example", "yan@home.example"], ["_Primary", "Home"],
    )  # fmt: skip


def activity(
    contact_id: str, fields: dict[str, str], files: tuple[PlannedFile, ...] = ()
) -> PlannedRecord:
    return PlannedRecord(
        kind="activity", contact_id=contact_id, subject="Board papers", to_line=None,
        body="", activity_type="FOLLOWUP", fields=fields, files=files,
        message_key="mid:board@example.org", message_id="<board@example.org>",
        created_by="MANAGER", saved_by="jdoe",
    )  # fmt: skip


def test_activity_fields_travel_typed_and_files_go_where_the_site_takes_them(
    imis: Org, site: Site
) -> None:
    site.standin.activity_types.append(
        {"ActivityTypeId": "FOLLOWUP", "Description": "Follow-up", "Uf4Prompt": "Amount",
         "Uf6Prompt": "Follow up on"}
    )  # fmt: skip
    fields = {"DESCRIPTION": "Board papers", "UF_4": "12.5", "UF_6": "2026-11-05T10:00:00+01:00"}
    papers = PlannedFile("papers.pdf", "application/pdf", b"%PDF-1.4 papers")
    # A site without LegacyActivityAttachment: the Activity is saved, its file named as not.
    [without] = connector(imis).write([activity("101", fields, (papers,))])
    assert isinstance(without, Saved)
    assert [(m.name, m.reason) for m in without.missing] == [
        ("papers.pdf", "this iMIS site takes no files on an Activity")
    ]
    [written] = site.standin.activities
    assert written["UF_4"] == 12.5 and written["UF_6"] == "2026-11-05T09:00:00"  # site on UTC
    # A site whose set-up check found the endpoint: the file goes to the activity.
    site.standin.activity_attachments = True
    set_crm(imis, site={"site": site.url, "activity_attachments": True})
    crm = connector(imis)
    assert crm.capabilities.activity_attachments
    [withfile] = crm.write([replace(activity("102", fields, (papers,)), message_key="mid:two")])
    assert isinstance(withfile, Saved) and withfile.missing == ()
    [attached] = site.standin.activity_files
    assert attached["FileName"] == "papers.pdf" and attached["Attachment"] == papers.data
    assert attached["ActivityId"] == withfile.record_id


def test_a_system_type_or_a_code_longer_than_iMIS_holds_is_never_offered(
    imis: Org, site: Site
) -> None:
    site.standin.activity_types += [
        {"ActivityTypeId": "CERTIFICAT", "Description": "Certification"},
        {"ActivityTypeId": "NEWSLETTERS", "Description": "A name, not a code"},
    ]
    codes = [t.code for t in connector(imis).activity_types()]
    assert "CERTIFICAT" not in codes and "NEWSLETTERS" not in codes and "EMAIL" in codes


def test_what_a_check_learnt_of_another_address_is_not_taken_for_this_one(
    imis: Org, site: Site
) -> None:
    set_crm(imis, site={"site": "https://elsewhere.example", "activity_attachments": True})
    assert not connector(imis).capabilities.activity_attachments


def test_activity_fields_take_what_the_site_says_they_take(imis: Org, site: Site) -> None:
    """Where the site's metadata describes the Activity (the set-up check keeps it), its
    types and lengths are what the review checks and what the write sends."""
    described = {
        "ACTIVITY_TYPE": "String(10)", "PartyId": "String", "TRANSACTION_DATE": "Date",
        "DESCRIPTION": "String(20)", "NOTE": "String", "SOURCE_CODE": "String(40)",
    }  # fmt: skip
    set_crm(imis, site={"site": site.url, "activity_properties": described})
    assert connector(imis).capabilities.activity_field_types["DESCRIPTION"] == ("text", 20)
    message = imis.service.read(
        b"From: ann@members.example\r\nTo: bob@members.example\r\n"
        b"Subject: The annual general meeting papers, second draft\r\n"
        b"Message-ID: <agm@members.example>\r\n\r\nHello.\r\n"
    )
    # From the message, cut to fit, marked; typed by a person, refused in the review.
    with pytest.raises(BadRequest, match="holds at most 20 characters"):
        imis.inspect(message, kind="activity", fields={"DESCRIPTION": "x" * 21})
    imis.file(message, kind="activity", contact_ids=frozenset({"101"}))
    [written] = site.standin.activities
    assert written["DESCRIPTION"] == "The annual general …"
