"""The iMIS stand-in (tests.imis_standin.py) against requests written by hand from
../shared/spec/imis-notes.md: each rule accepted once and refused once."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.conftest import serving
from tests.imis_standin import IqaQuery, Party, StandIn, User, contact_search

ASI = "Asi.Contracts"
RECIPIENT = f"Asi.Soa.Communications.DataContracts.CommunicationLogRecipientData, {ASI}"
PARTY_REF = f"Asi.Soa.Membership.DataContracts.PartyReferenceData, {ASI}"
LOG = f"Asi.Soa.Communications.DataContracts.CommunicationLogData, {ASI}"
FILES = (
    f"Asi.Soa.Communications.DataContracts.CommunicationLogRecipientAttachmentDataCollection, {ASI}"
)
FILE = f"Asi.Soa.Communications.DataContracts.CommunicationLogRecipientAttachmentData, {ASI}"
ENTITY = f"Asi.Soa.Core.DataContracts.GenericEntityData, {ASI}"
PROPERTIES = f"Asi.Soa.Core.DataContracts.GenericPropertyDataCollection, {ASI}"
PROPERTY = f"Asi.Soa.Core.DataContracts.GenericPropertyData, {ASI}"
PERSON = f"Asi.Soa.Membership.DataContracts.PersonData, {ASI}"
PERSON_NAME = f"Asi.Soa.Membership.DataContracts.PersonNameData, {ASI}"
EMAIL = f"Asi.Soa.Membership.DataContracts.EmailData, {ASI}"
EMAILS = f"Asi.Soa.Membership.DataContracts.EmailDataCollection, {ASI}"
FIND_BY_EMAIL = f"Asi.Soa.Membership.DataContracts.PartyFindByEmailRequest, {ASI}"
LEGACY_FILE = f"Asi.Soa.Membership.DataContracts.LegacyActivityAttachmentData, {ASI}"
BYTES = "System.Byte[], mscorlib"
IQA_NOT_EQUAL = "In IQA query, parameters must be Parameter Equal"
SITE_TIME = datetime(2026, 12, 1, 10, 15, 30, 250000)  # the site's clock, not the test's
PDF = b"%PDF-1.4 a small file"
PASSWORDS = {"manager": "manager-secret", "jdoe": "jdoe-secret"}


@pytest.fixture
def standin() -> StandIn:
    site = StandIn(clock=lambda: SITE_TIME)
    for party in (
        Party(
            "101", "Ann Archer", ["ann@members.example", "Ann.Archer@Work.Example"], "Archer & Co"
        ),
        Party("102", "Bob Baker", ["bob@members.example"], "Baker Ltd"),
        Party("103", "Cy Plus", ["cy+news@plus.example"]),
    ):
        site.parties[party.id] = party
    site.users = {
        "MANAGER": User(PASSWORDS["manager"], ["SysAdmin"]),
        "jdoe": User(PASSWORDS["jdoe"], ["Staff"], "201", "jdoe@acme.example"),
    }
    site.activity_types = [
        {"ActivityTypeId": "EMAIL", "Description": "Email", "NotePrompt": "Message",
         "Uf1Prompt": "Other participants", "Uf4Prompt": "Minutes", "Uf6Prompt": "Follow up"},
        {"ActivityTypeId": "CALL", "Description": "Phone call", "NotePrompt": "Notes"},
        {"ActivityTypeId": "DUES", "Description": "Dues payment"},
    ]  # fmt: skip
    site.queries["$/Web Service Queries/ContactSearch"] = contact_search()
    return site


@pytest.fixture
def client(standin: StandIn) -> Iterator[TestClient]:
    with TestClient(standin.app()) as test_client:
        yield test_client


def sign_in(client: TestClient, user: str = "jdoe") -> dict[str, str]:
    password = PASSWORDS[user.lower()]
    answer = client.post(
        "/token", data={"grant_type": "password", "username": user, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return sign_in(client)


@pytest.fixture
def manager(client: TestClient) -> dict[str, str]:
    return sign_in(client, "MANAGER")


def refused(answer: Any, field: str | None = None, text: str = "") -> dict[str, Any]:
    """A 400 with a ValidationResultsData and no top-level Message (notes L243-245)."""
    assert answer.status_code == 400, answer.text
    body: dict[str, Any] = answer.json()
    assert body["$type"] == f"Asi.Soa.Core.DataContracts.ValidationResultsData, {ASI}"
    assert "Message" not in body
    error = body["Errors"]["$values"][0]
    assert set(error) >= {"FieldName", "FieldValue", "Message", "FormattedMessage"}
    if field is not None:
        assert error["FieldName"] == field, body
    assert text in body["Summary"], body
    return body


def items(answer: Any) -> list[Any]:
    assert answer.status_code == 200, answer.text
    values: list[Any] = answer.json()["Items"]["$values"]
    return values


def wrapped(data: bytes) -> dict[str, str]:
    return {"$type": BYTES, "$value": base64.b64encode(data).decode()}


def uniform_id(standin: StandIn, party_id: str = "101") -> str:
    return standin.parties[party_id].uniform_id


def recipient(standin: StandIn, party_id: str = "101", **changes: Any) -> dict[str, Any]:
    """A CommunicationLogRecipientData as notes L154-165 show it."""
    body: dict[str, Any] = {
        "$type": RECIPIENT,
        "Party": {"$type": PARTY_REF, "PartyId": party_id, "Id": party_id,
                  "UniformId": uniform_id(standin, party_id)},
        "Address": "ann@members.example",
        "MessageType": 0,
        "CommunicationLog": {"$type": LOG, "Subject": "Minutes", "Html": "<p>Hello</p>"},
        "Attachments": {"$type": FILES, "$values": [
            {"$type": FILE, "Name": "report.pdf", "Attachment": wrapped(PDF)}]},
    }  # fmt: skip
    body.update(changes)
    return body


def generic(entity: str, **values: Any) -> dict[str, Any]:
    """A GenericEntityData as notes L55-61 show it."""
    return {
        "$type": ENTITY,
        "EntityTypeName": entity,
        "Properties": {
            "$type": PROPERTIES,
            "$values": [{"$type": PROPERTY, "Name": k, "Value": v} for k, v in values.items()],
        },
    }


def person(*emails: tuple[str, str, bool], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "$type": PERSON,
        "PersonName": {"$type": PERSON_NAME, "FirstName": "Dora", "LastName": "Dale"},
        "Emails": {"$type": EMAILS, "$values": [
            {"$type": EMAIL, "Address": a, "EmailType": t, "IsPrimary": p} for a, t, p in emails]},
    }  # fmt: skip
    body.update(changes)
    return body


# -- sign-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/token", "/Token", "/TOKEN"])
def test_a_token_is_had_on_any_case_of_the_path(client: TestClient, path: str) -> None:
    answer = client.post(
        path, data={"grant_type": "password", "username": "JDOE", "password": "jdoe-secret"}
    )
    assert answer.status_code == 200
    assert set(answer.json()) >= {"access_token", "expires_in", "token_type"}


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "jdoe", "password": "wrong"},
        {"grant_type": "password", "username": "nobody", "password": "jdoe-secret"},
        {"grant_type": "client_credentials", "username": "jdoe", "password": "jdoe-secret"},
    ],
)
def test_wrong_credentials_answer_400(client: TestClient, form: dict[str, str]) -> None:
    answer = client.post("/token", data=form)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_a_refused_background_account_cannot_sign_in(client: TestClient, standin: StandIn) -> None:
    standin.background_refused = True
    form = {"grant_type": "password", "username": "manager", "password": "manager-secret"}
    assert client.post("/token", data=form).status_code == 400
    sign_in(client)  # a staff member still can
    assert standin.token_requests == ["manager", "jdoe"]


def test_the_api_needs_a_bearer_token(client: TestClient, standin: StandIn) -> None:
    assert client.get("/api/Party").status_code == 401
    assert client.get("/api/Party", headers={"Authorization": "Bearer nope"}).status_code == 401
    headers = sign_in(client)
    assert client.get("/api/Party", headers=headers).status_code == 200
    standin.expire_tokens()
    answer = client.get("/api/Party", headers=headers)
    assert answer.status_code == 401
    assert "Message" in answer.json()


def test_a_token_lives_its_lifetime(client: TestClient, standin: StandIn) -> None:
    standin.token_lifetime = 0
    headers = sign_in(client)
    time.sleep(0.01)
    assert client.get("/api/Party", headers=headers).status_code == 401


# -- parties -----------------------------------------------------------------------------------


def test_parties_by_email_in_answer_a_paged_list(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.get("/api/Party?email=in:ann@members.example|bob@members.example", headers=auth)
    body = answer.json()
    assert body["$type"] == f"Asi.Soa.Core.DataContracts.PagedResult, {ASI}"
    assert {k: body[k] for k in ("Offset", "Limit", "Count", "TotalCount", "HasNext")} == {
        "Offset": 0, "Limit": 100, "Count": 2, "TotalCount": 2, "HasNext": False}  # fmt: skip
    assert body["NextOffset"] == 0
    ann = body["Items"]["$values"][0]
    assert ann["$type"] == PERSON
    assert (ann["PartyId"], ann["Id"], ann["Name"], ann["Email"]) == (
        "101", "101", "Ann Archer", "ann@members.example")  # fmt: skip
    assert uuid.UUID(ann["UniformId"])
    assert ann["PersonName"]["LastName"] == "Archer"
    assert ann["PrimaryOrganization"]["Name"] == "Archer & Co"
    first, second = ann["Emails"]["$values"]
    assert first == {"$type": EMAIL, "Address": "ann@members.example", "EmailType": "_Primary",
                     "IsPrimary": True}  # fmt: skip
    assert second["EmailType"] == "Work"
    assert "IsPrimary" not in second  # a default value is left out (notes L168)


@pytest.mark.parametrize(
    "query",
    [
        "email=ann@members.example|bob@members.example",  # Equal to either (L198)
        "Email=in:ann@members.example|bob@members.example",  # any case of the name
        "EMAIL=in:ANN@members.example|Bob@Members.Example",  # values without case
    ],
)
def test_the_filter_grammar(client: TestClient, auth: dict[str, str], query: str) -> None:
    assert [p["PartyId"] for p in items(client.get(f"/api/Party?{query}", headers=auth))] == [
        "101", "102"]  # fmt: skip


def test_other_operators_apply(client: TestClient, auth: dict[str, str]) -> None:
    found = items(client.get("/api/Party?email=contains:members", headers=auth))
    assert [p["PartyId"] for p in found] == ["101", "102"]
    found = items(client.get("/api/Party?lastname=startsWith:Bak", headers=auth))
    assert [p["PartyId"] for p in found] == ["102"]
    # a head that is no operator is part of an Equal value
    assert items(client.get("/api/Party?email=mailto:ann@members.example", headers=auth)) == []


def test_the_email_filter_sees_only_primary_addresses(
    client: TestClient, auth: dict[str, str], standin: StandIn
) -> None:
    assert items(client.get("/api/Party?email=ann.archer@work.example", headers=auth)) == []
    standin.email_filter_primary_only = False
    found = items(client.get("/api/Party?email=ann.archer@work.example", headers=auth))
    assert [p["PartyId"] for p in found] == ["101"]


def test_a_plus_not_encoded_is_a_space(client: TestClient, auth: dict[str, str]) -> None:
    assert items(client.get("/api/Party?email=cy+news@plus.example", headers=auth)) == []
    found = items(client.get("/api/Party?email=cy%2Bnews@plus.example", headers=auth))
    assert [p["PartyId"] for p in found] == ["103"]


def test_an_unknown_filter_property_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    refused(client.get("/api/Party?mail=ann@members.example", headers=auth), "mail")


def test_pages(client: TestClient, auth: dict[str, str], standin: StandIn) -> None:
    body = client.get("/api/Party?LIMIT=2", headers=auth).json()
    assert (body["Count"], body["TotalCount"], body["HasNext"], body["NextOffset"]) == (
        2,
        3,
        True,
        2,
    )
    body = client.get("/api/Party?limit=2&Offset=2", headers=auth).json()
    assert (body["Count"], body["HasNext"], body["Offset"]) == (1, False, 2)
    assert body["Items"]["$values"][0]["PartyId"] == "103"
    assert client.get("/api/Party?limit=1000", headers=auth).json()["Limit"] == 500
    assert standin.pages == [("/api/Party", 0, 2), ("/api/Party", 2, 2), ("/api/Party", 0, 500)]
    standin.limit_over_max = "refuse"
    refused(client.get("/api/Party?limit=501", headers=auth), "limit")


def test_order_by(client: TestClient, auth: dict[str, str]) -> None:
    found = items(client.get("/api/Party?OrderBy=Name:Descending", headers=auth))
    assert [p["PartyId"] for p in found] == ["103", "102", "101"]
    refused(client.get("/api/Party?orderby=Shoe", headers=auth), "OrderBy")


def test_one_party(client: TestClient, auth: dict[str, str], standin: StandIn) -> None:
    answer = client.get("/api/party/101", headers=auth)
    assert answer.json()["UniformId"] == uniform_id(standin)
    assert client.get("/api/Person/102", headers=auth).json()["Name"] == "Bob Baker"
    assert client.get("/api/Party/999", headers=auth).status_code == 404


def test_find_by_email_matches_any_address(client: TestClient, auth: dict[str, str]) -> None:
    body = {"$type": FIND_BY_EMAIL, "EntityTypeName": "Party", "OperationName": "FindByEmail",
            "Email": "ann.archer@work.example"}  # fmt: skip
    answer = client.post("/api/Party/_execute", json=body, headers=auth)
    assert answer.status_code == 200
    result = answer.json()["Result"]
    assert [p["PartyId"] for p in result["$values"]] == ["101"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"$type": ENTITY}, "$type"),
        ({"OperationName": "FindByName"}, "OperationName"),
        ({"EntityTypeName": "Person"}, "EntityTypeName"),
        ({"Address": "x@y"}, "Address"),
        ({"Email": ""}, "Email"),
    ],
)
def test_find_by_email_refuses(
    client: TestClient, auth: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {"$type": FIND_BY_EMAIL, "EntityTypeName": "Party", "OperationName": "FindByEmail",
            "Email": "ann@members.example", **change}  # fmt: skip
    refused(client.post("/api/Party/_execute", json=body, headers=auth), field)


# -- IQA --------------------------------------------------------------------------------------


def test_an_iqa_search_runs_under_the_callers_token(
    client: TestClient, auth: dict[str, str], standin: StandIn
) -> None:
    answer = client.get("/api/iqa?QueryName=ContactSearch&parameter=archer", headers=auth)
    (row,) = items(answer)
    properties = {p["Name"]: p["Value"] for p in row["Properties"]["$values"]}
    assert properties == {"ID": "101", "Full Name": "Ann Archer",
                          "Email Address": "ann@members.example"}  # fmt: skip
    path = "$/Web Service Queries/ContactSearch"
    assert items(client.get(f"/api/iqa?queryname={path}&parameter=WORK.example", headers=auth))
    assert standin.searches == [("jdoe", "archer"), ("jdoe", "WORK.example")]
    assert standin.iqa_runs[0] == ("jdoe", path, ["archer"])


@pytest.mark.parametrize(
    "parameter", ["contains:ann", "eq:ann", "startsWith:ann", "in:ann|bob", "ne:ann"]
)
def test_iqa_parameters_must_be_plain(
    client: TestClient, auth: dict[str, str], parameter: str
) -> None:
    answer = client.get(f"/api/iqa?QueryName=ContactSearch&parameter={parameter}", headers=auth)
    refused(answer, "parameter", IQA_NOT_EQUAL)


def test_iqa_eq_prefix_can_be_read_as_equal(
    client: TestClient, auth: dict[str, str], standin: StandIn
) -> None:
    standin.iqa_eq_prefix_refused = False
    assert items(client.get("/api/iqa?QueryName=ContactSearch&parameter=eq:ann", headers=auth))
    # a colon after no operator is plain text
    answer = client.get("/api/iqa?QueryName=ContactSearch&parameter=ann:x", headers=auth)
    assert items(answer) == []


def test_iqa_refusals(client: TestClient, auth: dict[str, str]) -> None:
    refused(client.get("/api/iqa?QueryName=Nope&parameter=ann", headers=auth), "QueryName",
            "Query: Nope not found.")  # fmt: skip
    refused(client.get("/api/iqa?parameter=ann&QueryName=ContactSearch", headers=auth),
            "QueryName")  # fmt: skip
    refused(client.get("/api/iqa?QueryName=ContactSearch&text=ann", headers=auth), "text")
    answer = client.get("/api/iqa?QueryName=ContactSearch&parameter=a&parameter=b", headers=auth)
    refused(answer, "parameter")


def test_iqa_columns_are_as_the_query_names_them(
    client: TestClient, auth: dict[str, str], standin: StandIn
) -> None:
    standin.queries["$/Staff/Find"] = IqaQuery(
        {"Id": lambda p: int(p.id), "FullName": lambda p: p.name}, lambda p, _: True, prompts=0
    )
    row = items(client.get("/api/iqa?QueryName=$/Staff/Find", headers=auth))[0]
    assert row["Properties"]["$values"][0]["Value"] == {"$type": "System.Int32", "$value": 101}


# -- users and roles -------------------------------------------------------------------------


def test_user_roles_are_null_and_user_security_has_them(
    client: TestClient, auth: dict[str, str], standin: StandIn
) -> None:
    (user,) = items(client.get("/api/User?UserName=JDOE", headers=auth))
    assert (user["UserName"], user["UserId"], user["Party"]["PartyId"]) == ("jdoe", "201", "201")
    assert user.get("Roles") is None
    (security,) = items(client.get("/api/UserSecurity?username=jdoe", headers=auth))
    (role,) = security["Roles"]["$values"]
    assert (role["RoleName"], role["Description"]) == ("Staff", "Staff")
    assert uuid.UUID(role["RoleKey"])
    standin.user_roles_null = False
    (user,) = items(client.get("/api/User?UserName=eq:jdoe", headers=auth))
    assert user["Roles"]["$values"] == ["Staff"]
    assert items(client.get("/api/User?UserName=nobody", headers=auth)) == []


def test_address_purposes(client: TestClient, auth: dict[str, str]) -> None:
    names = [p["Name"] for p in items(client.get("/api/AddressPurpose", headers=auth))]
    assert names == ["_Primary", "Work", "Home"]


# -- new contacts ---------------------------------------------------------------------------


def test_a_person_is_created(client: TestClient, manager: dict[str, str], standin: StandIn) -> None:
    body = person(("dora@x.example", "_Primary", True), ("dora@work.example", "Work", False),
                  Email="dora@x.example")  # fmt: skip
    answer = client.post("/api/Person", json=body, headers=manager)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["Name"] == "Dora Dale"
    assert [e["EmailType"] for e in created["Emails"]["$values"]] == ["_Primary", "Work"]
    assert standin.parties[created["PartyId"]].emails == ["dora@x.example", "dora@work.example"]
    assert standin.writers == ["manager"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (person(("d@x.example", "Work", True)), "EmailType"),
        (person(("d@x.example", "_Primary", False)), "EmailType"),
        (person(("d@x.example", "_Primary", True), ("e@x.example", "_Other", False)), "EmailType"),
        (
            person(("d@x.example", "_Primary", True), ("e@x.example", "_Primary", False)),
            "EmailType",
        ),
        (person(("d@x.example", "_Primary", True), ("e@x.example", "Work", True)), "EmailType"),
        (person(("d@x.example", "_Primary", True), Phone="555"), "Phone"),
        (person(("d@x.example", "_Primary", True), Email="other@x.example"), "Email"),
        (person(("d@x.example", "_Primary", True), PartyId="777"), "PartyId"),
        (person(("d@x.example", "_Primary", True), PersonName={"$type": PERSON_NAME}), "LastName"),
        ({**generic("Person"), "PersonName": {}}, "$type"),
    ],
)
def test_a_person_is_refused(
    client: TestClient, manager: dict[str, str], body: dict[str, Any], field: str
) -> None:
    refused(client.post("/api/Person", json=body, headers=manager), field)


# -- interactions -----------------------------------------------------------------------------


def test_an_interaction_with_its_file_in_one_write(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    answer = client.post("/api/CommunicationLogRecipient", json=recipient(standin), headers=manager)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["$type"] == RECIPIENT
    assert uuid.UUID(created["CommunicationLogRecipientId"])
    assert uuid.UUID(created["CommunicationLog"]["CommunicationLogId"])
    assert created["CommunicationLog"]["Subject"] == "Minutes"
    assert "Identity" not in created
    assert "MessageType" not in created  # 0 is the default, left out
    assert created["UpdateInformation"]["CreatedOn"] == "2026-12-01T10:15:30.25"
    assert created["Party"]["UniformId"] == uniform_id(standin)
    (file,) = created["Attachments"]["$values"]
    assert file["Name"] == "report.pdf"
    (entry,) = standin.interactions
    assert entry["Id"] == created["CommunicationLogRecipientId"]
    assert (entry["Subject"], entry["Address"], entry["PartyId"]) == (
        "Minutes", "ann@members.example", "101")  # fmt: skip
    (stored,) = standin.attachments
    assert (stored["Name"], stored["Attachment"], stored["way"]) == ("report.pdf", PDF, "nested")


def test_an_interaction_without_files_and_another_message_type(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    body = recipient(standin, MessageType=2, Address="a" * 100)
    del body["Attachments"]
    body["CommunicationLog"]["Subject"] = "s" * 500
    created = client.post("/api/CommunicationLogRecipient", json=body, headers=manager).json()
    assert created["MessageType"] == 2
    assert "Attachments" not in created
    assert standin.attachments == []


def file_item(**changes: Any) -> dict[str, Any]:
    return {"$type": FILE, "Name": "report.pdf", "Attachment": wrapped(PDF), **changes}


def with_file(standin: StandIn, **changes: Any) -> dict[str, Any]:
    return recipient(standin, Attachments={"$type": FILES, "$values": [file_item(**changes)]})


def with_log(standin: StandIn, **changes: Any) -> dict[str, Any]:
    body = recipient(standin)
    body["CommunicationLog"] = {"$type": LOG, "Subject": "Minutes", **changes}
    return body


def with_party(standin: StandIn, **changes: Any) -> dict[str, Any]:
    body = recipient(standin)
    body["Party"] = {**body["Party"], **changes}
    return body


REFUSED_INTERACTIONS: dict[str, tuple[Callable[[StandIn], dict[str, Any]], str]] = {
    "generic": (lambda s: generic("CommunicationLogRecipient", RecipientId="101", Subject="x"),
                "$type"),
    "RecipientId": (lambda s: recipient(s, RecipientId="101"), "RecipientId"),
    "Body": (lambda s: recipient(s, Body="<p>x</p>"), "Body"),
    "To": (lambda s: recipient(s, To="ann@members.example"), "To"),
    "MessageType as text": (lambda s: recipient(s, MessageType="Email"), "MessageType"),
    "MessageType out of range": (lambda s: recipient(s, MessageType=4), "MessageType"),
    "MessageType true": (lambda s: recipient(s, MessageType=True), "MessageType"),
    "Address 101": (lambda s: recipient(s, Address="a" * 101), "Address"),
    "no Address": (lambda s: recipient(s, Address=""), "Address"),
    "no Subject": (lambda s: with_log(s, Subject=""), "Subject"),
    "Subject 501": (lambda s: with_log(s, Subject="s" * 501), "Subject"),
    "log property": (lambda s: with_log(s, Body="x"), "Body"),
    "unknown log": (lambda s: with_log(s, CommunicationLogId=str(uuid.uuid4())),
                    "CommunicationLogId"),
    "no UniformId": (lambda s: with_party(s, UniformId=None), "UniformId"),
    "wrong UniformId": (lambda s: with_party(s, UniformId=uniform_id(s, "102")), "UniformId"),
    "UniformId no GUID": (lambda s: with_party(s, UniformId="101"), "UniformId"),
    "unknown party": (lambda s: with_party(s, PartyId="999", Id="999"), "PartyId"),
    "Id not PartyId": (lambda s: with_party(s, Id="102"), "Id"),
    "party $type": (lambda s: with_party(s, **{"$type": PERSON}), "$type"),
    "Name 51": (lambda s: with_file(s, Name="n" * 47 + ".pdf"), "Name"),
    "no Name": (lambda s: with_file(s, Name=""), "Name"),
    "bare string": (lambda s: with_file(s, Attachment=base64.b64encode(PDF).decode()),
                    "Attachment"),
    "empty file": (lambda s: with_file(s, Attachment=wrapped(b"")), "Attachment"),
    "not base64": (lambda s: with_file(s, Attachment={"$type": BYTES, "$value": "@@@"}),
                   "Attachment"),
    "file with an ID": (lambda s: with_file(s, CommunicationLogRecipientId=str(uuid.uuid4())),
                        "CommunicationLogRecipientId"),
    "file $type": (lambda s: with_file(s, **{"$type": ENTITY}), "$type"),
    "files as a list": (lambda s: recipient(s, Attachments=[file_item()]), "Attachments"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_INTERACTIONS)
def test_an_interaction_is_refused(
    client: TestClient, manager: dict[str, str], standin: StandIn, case: str
) -> None:
    make, field = REFUSED_INTERACTIONS[case]
    answer = client.post("/api/CommunicationLogRecipient", json=make(standin), headers=manager)
    refused(answer, field)
    assert standin.interactions == []
    assert standin.attachments == []


def test_a_file_name_of_50_is_taken(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    body = with_file(standin, Name="n" * 46 + ".pdf")
    assert (
        client.post("/api/CommunicationLogRecipient", json=body, headers=manager).status_code == 201
    )


def test_uniform_id_can_be_optional(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    standin.uniform_id_required = False
    body = with_party(standin, UniformId=None)
    del body["Party"]["UniformId"]
    assert (
        client.post("/api/CommunicationLogRecipient", json=body, headers=manager).status_code == 201
    )


def test_a_nested_log_can_need_an_existing_id(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    first = client.post("/api/CommunicationLogRecipient", json=recipient(standin), headers=manager)
    log_id = first.json()["CommunicationLog"]["CommunicationLogId"]
    standin.nested_log_created = False
    answer = client.post("/api/CommunicationLogRecipient", json=recipient(standin), headers=manager)
    refused(answer, "CommunicationLogId")
    body = with_log(standin, CommunicationLogId=log_id)
    linked = client.post("/api/CommunicationLogRecipient", json=body, headers=manager).json()
    assert linked["CommunicationLog"]["CommunicationLogId"] == log_id


def test_a_body_that_is_not_json_is_refused(client: TestClient, manager: dict[str, str]) -> None:
    answer = client.post("/api/CommunicationLogRecipient", content=b"Subject=x", headers=manager)
    assert answer.status_code == 415
    answer = client.post(
        "/api/CommunicationLogRecipient",
        content=b"{not json",
        headers={**manager, "Content-Type": "application/json"},
    )
    refused(answer)


def test_a_contacts_interactions_are_listed(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    client.post("/api/CommunicationLogRecipient", json=recipient(standin), headers=manager)
    body = recipient(standin, "102", Address="bob@members.example")
    client.post("/api/CommunicationLogRecipient", json=body, headers=manager)
    (entry,) = items(client.get("/api/CommunicationLogRecipient?PartyId=101", headers=manager))
    assert entry["CommunicationLog"]["Subject"] == "Minutes"
    assert entry["UpdateInformation"]["CreatedOn"] == "2026-12-01T10:15:30.25"
    assert entry["Party"]["PartyId"] == "101"
    assert items(client.get("/api/CommunicationLogRecipient?partyid=103", headers=manager)) == []


def test_a_file_one_by_one(client: TestClient, manager: dict[str, str], standin: StandIn) -> None:
    body = recipient(standin)
    del body["Attachments"]
    created = client.post("/api/CommunicationLogRecipient", json=body, headers=manager).json()
    key = created["CommunicationLogRecipientId"]
    file = {"$type": FILE, "CommunicationLogRecipientId": key, "Name": "a.txt",
            "Attachment": wrapped(b"hello")}  # fmt: skip
    answer = client.post("/api/CommunicationLogRecipientAttachment", json=file, headers=manager)
    assert answer.status_code == 201, answer.text
    assert uuid.UUID(answer.json()["CommunicationLogRecipientAttachmentId"])
    assert "Identity" not in answer.json()
    (stored,) = standin.attachments
    assert (stored["CommunicationLogRecipientId"], stored["Attachment"], stored["way"]) == (
        key, b"hello", "alone")  # fmt: skip
    for change, field in [
        ({"CommunicationLogRecipientId": str(uuid.uuid4())}, "CommunicationLogRecipientId"),
        ({"CommunicationLogRecipientId": "5001"}, "CommunicationLogRecipientId"),
        ({"Attachment": base64.b64encode(b"hello").decode()}, "Attachment"),
        ({"Name": "n" * 51}, "Name"),
        ({"FileName": "a.txt"}, "FileName"),
    ]:
        answer = client.post(
            "/api/CommunicationLogRecipientAttachment", json={**file, **change}, headers=manager
        )
        refused(answer, field)
    assert len(standin.attachments) == 1


# -- activities ---------------------------------------------------------------------------------


def test_an_activity_answers_its_sequence_number(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    body = generic("Activity", ACTIVITY_TYPE="EMAIL", PartyId="101")
    answer = client.post("/api/Activity", json=body, headers=manager)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    (seqn,) = created["Identity"]["IdentityElements"]["$values"]
    values = {p["Name"]: p["Value"] for p in created["Properties"]["$values"]}
    assert values["SEQN"] == {"$type": "System.Int32", "$value": int(seqn)}
    assert standin.activities == [{"SEQN": seqn, "ACTIVITY_TYPE": "EMAIL", "PartyId": "101"}]


def test_an_activity_with_every_kind_of_field(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    body = generic(
        "Activity", ACTIVITY_TYPE="EMAIL", PartyId="101", TRANSACTION_DATE="2026-11-30T09:05:00",
        DESCRIPTION="d" * 255, SOURCE_CODE="s" * 40, NOTE="n" * 5000, UF_1="u" * 255,
        UF_4={"$type": "System.Decimal", "$value": 12.5}, UF_6="2026-12-24T00:00:00",
    )  # fmt: skip
    answer = client.post("/api/Activity", json=body, headers=manager)
    assert answer.status_code == 201, answer.text
    (listed,) = items(client.get("/api/Activity?PartyId=101", headers=manager))
    values = {p["Name"]: p["Value"] for p in listed["Properties"]["$values"]}
    assert values["UF_4"] == {"$type": "System.Decimal", "$value": 12.5}
    assert values["TRANSACTION_DATE"] == "2026-11-30T09:05:00"
    assert items(client.get("/api/Activity?PartyId=102", headers=manager)) == []


def activity(**changes: Any) -> dict[str, Any]:
    values = {"ACTIVITY_TYPE": "EMAIL", "PartyId": "101", **changes}
    return generic("Activity", **{k: v for k, v in values.items() if v is not None})


REFUSED_ACTIVITIES = {
    "UF_4 plain": (activity(UF_4=12.5), "UF_4"),
    "UF_4 text": (activity(UF_4="12.5"), "UF_4"),
    "UF_4 as Double": (activity(UF_4={"$type": "System.Double", "$value": 1.0}), "UF_4"),
    "UF_1 wrapped": (activity(UF_1={"$type": "System.String", "$value": "x"}), "UF_1"),
    "date with a space": (activity(TRANSACTION_DATE="2026-11-30 09:05:00"), "TRANSACTION_DATE"),
    "date month 13": (activity(TRANSACTION_DATE="2026-13-01T00:00:00"), "TRANSACTION_DATE"),
    "date with zone": (activity(UF_6="2026-12-24T00:00:00Z"), "UF_6"),
    "DESCRIPTION 256": (activity(DESCRIPTION="d" * 256), "DESCRIPTION"),
    "SOURCE_CODE 41": (activity(SOURCE_CODE="s" * 41), "SOURCE_CODE"),
    "UF_1 256": (activity(UF_1="u" * 256), "UF_1"),
    "type of 11": (activity(ACTIVITY_TYPE="EMAILINGXYZ"), "ACTIVITY_TYPE"),
    "system type": (activity(ACTIVITY_TYPE="DUES"), "ACTIVITY_TYPE"),
    "unknown type": (activity(ACTIVITY_TYPE="LETTER"), "ACTIVITY_TYPE"),
    "no type": (activity(ACTIVITY_TYPE=None), "ACTIVITY_TYPE"),
    "no party": (activity(PartyId=None), "PartyId"),
    "unknown party": (activity(PartyId="999"), "PartyId"),
    "unknown property": (activity(SUBJECT="x"), "SUBJECT"),
    "UF_2 without a prompt": (activity(UF_2="x"), "UF_2"),
    "other entity": ({**activity(), "EntityTypeName": "ContactInteraction"}, "EntityTypeName"),
    "typed": ({**activity(), "$type": RECIPIENT}, "$type"),
}


@pytest.mark.parametrize("case", REFUSED_ACTIVITIES)
def test_an_activity_is_refused(
    client: TestClient, manager: dict[str, str], standin: StandIn, case: str
) -> None:
    body, field = REFUSED_ACTIVITIES[case]
    refused(client.post("/api/Activity", json=body, headers=manager), field)
    assert standin.activities == []


def test_fields_without_a_prompt_can_be_allowed(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    standin.activity_fields_need_prompt = False
    assert client.post("/api/Activity", json=activity(UF_2="x"), headers=manager).status_code == 201


def test_the_professional_edition_refuses_activities(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    standin.edition = "professional"
    assert client.post("/api/Activity", json=activity(), headers=manager).status_code == 403


def test_activity_types_carry_their_prompts(client: TestClient, auth: dict[str, str]) -> None:
    types = items(client.get("/api/LegacyActivityType", headers=auth))
    assert types[0]["ActivityTypeId"] == "EMAIL"
    assert types[0]["Uf1Prompt"] == "Other participants"
    assert types[0]["NotePrompt"] == "Message"


def test_metadata(client: TestClient, auth: dict[str, str], standin: StandIn) -> None:
    answer = client.get("/api/metadata/Activity", headers=auth)
    properties = {p["Name"]: p for p in answer.json()["Properties"]["$values"]}
    assert properties["UF_4"]["PropertyTypeName"] == "Decimal"
    assert properties["UF_6"]["PropertyTypeName"] == "Date"
    assert properties["DESCRIPTION"]["MaxLength"] == 255
    assert client.get("/api/metadata/communicationlogrecipient", headers=auth).status_code == 200
    assert client.get("/api/metadata/Nope", headers=auth).status_code == 404
    assert client.get("/api/metadata/LegacyActivityAttachment", headers=auth).status_code == 404
    standin.activity_metadata = False
    assert client.get("/api/metadata/Activity", headers=auth).status_code == 404
    standin.metadata_entities.discard("CommunicationLogRecipient")
    assert client.get("/api/metadata/CommunicationLogRecipient", headers=auth).status_code == 404


def test_activity_files_where_the_site_takes_them(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    file: dict[str, Any] = {"$type": LEGACY_FILE, "ActivityId": "0", "FileName": "a.txt",
            "Attachment": base64.b64encode(b"hello").decode()}  # fmt: skip
    assert (
        client.post("/api/LegacyActivityAttachment", json=file, headers=manager).status_code == 404
    )
    standin.activity_attachments = True
    created = client.post("/api/Activity", json=activity(), headers=manager).json()
    seqn = created["Identity"]["IdentityElements"]["$values"][0]
    file["ActivityId"] = seqn
    answer = client.post("/api/LegacyActivityAttachment", json=file, headers=manager)
    assert answer.status_code == 201, answer.text
    untyped = {k: v for k, v in file.items() if k != "$type"}
    assert (
        client.post("/api/LegacyActivityAttachment", json=untyped, headers=manager).status_code
        == 201
    )
    assert standin.activity_files[0] == {
        "ActivityId": seqn,
        "FileName": "a.txt",
        "Attachment": b"hello",
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Attachment": wrapped(b"hello")}, "Attachment"),
        ({"Attachment": ""}, "Attachment"),
        ({"Attachment": "@@"}, "Attachment"),
        ({"ActivityId": "999999"}, "ActivityId"),
        ({"FileName": "n" * 51}, "FileName"),
        ({"Name": "a.txt"}, "Name"),
        ({"$type": ENTITY}, "$type"),
    ]
    for change, field in cases:
        answer = client.post(
            "/api/LegacyActivityAttachment", json={**file, **change}, headers=manager
        )
        refused(answer, field)
    assert len(standin.activity_files) == 2


# -- paths --------------------------------------------------------------------------------------


def test_unknown_paths_are_404_and_paths_have_no_case(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    assert client.post("/api/ContactInteraction", json={}, headers=manager).status_code == 404
    assert client.post("/api/Nope", json={}, headers=manager).status_code == 404
    assert "Message" in client.get("/nothing/here").json()
    assert client.get("/API/PARTY", headers=manager).status_code == 200
    assert client.get("/api/Person", headers=manager).status_code == 405
    assert standin.requests == [("GET", "/API/PARTY")]


# -- faults -------------------------------------------------------------------------------------


def test_throttling(client: TestClient, auth: dict[str, str], standin: StandIn) -> None:
    standin.throttle_next = 1
    answer = client.get("/api/Party", headers=auth)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "1")
    standin.faults_on[("/api/Party", 3)] = ["429", "429:7"]
    assert client.get("/api/Party", headers=auth).status_code == 200  # the 2nd request
    bare = client.get("/api/Party", headers=auth)
    assert bare.status_code == 429
    assert "Retry-After" not in bare.headers
    assert client.get("/api/Party", headers=auth).headers["Retry-After"] == "7"
    assert client.get("/api/Party", headers=auth).status_code == 200


def test_failed_reads_and_writes(
    client: TestClient, manager: dict[str, str], standin: StandIn
) -> None:
    standin.fail_next_reads = 1
    assert client.get("/api/Party", headers=manager).status_code == 500
    assert client.get("/api/Party", headers=manager).status_code == 200
    standin.fail_writes = {1}
    assert client.post("/api/Activity", json=activity(), headers=manager).status_code == 500
    assert standin.activities == []
    assert client.post("/api/Activity", json=activity(), headers=manager).status_code == 201
    assert (standin.writes, standin.writers) == (2, ["manager"])


def test_slow_answers(client: TestClient, manager: dict[str, str], standin: StandIn) -> None:
    standin.slow_seconds = 0.2
    started = time.monotonic()
    client.get("/api/Party", headers=manager)
    assert time.monotonic() - started >= 0.2
    standin.slow_seconds = 0
    standin.slow_writes = 0.2
    started = time.monotonic()
    assert client.post("/api/Activity", json=activity(), headers=manager).status_code == 201
    assert time.monotonic() - started >= 0.2


def test_dropped_connections(standin: StandIn) -> None:
    standin.reset_next = 1
    with serving(standin.app()) as url, httpx2.Client(base_url=url) as http:
        form = {"grant_type": "password", "username": "jdoe", "password": "jdoe-secret"}
        token = http.post("/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with pytest.raises(httpx2.TransportError):
            http.get("/api/Party", headers=headers)
        assert http.get("/api/Party", headers=headers).status_code == 200
