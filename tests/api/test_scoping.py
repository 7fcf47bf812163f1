"""No route reads or writes another organisation's data, whatever IDs it is given.

Organisation B's admin is pointed at A's contacts, records, files, messages
and users by their IDs. Every API route must appear below: a new route without
a case here fails ``test_every_route_is_checked``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mailfiler.service import Service
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.api.conftest import Api
from tests.conftest import fixture_bytes, new_org


@pytest.fixture
def two(api: Api, service: Service) -> tuple[Api, Api, dict[str, str]]:
    """A with a filed message, an open upload and a contact B lacks; B signed in as its admin."""
    a = api
    b = Api(api.client, new_org(service, with_contacts=False))
    a_admin = a.sign_in("admin")
    added = a.client.post(
        "/api/v1/contacts",
        json={"full_name": "Only In A", "emails": ["only@a.example"]},
        headers=a_admin,
    ).json()
    a.org.file("encoded-words.eml")
    upload = a.read("text-only.eml", a.sign_in())
    record = a.org.records("101")[0]
    ids = {
        "contact": added["id"],
        "attachment": record.attachments[0].id,
        "ref": upload["message_ref"],
    }
    return a, b, ids


Case = Callable[[Api, Api, dict[str, str], dict[str, str]], None]
CASES: dict[tuple[str, str], Case] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(check: Case) -> Case:
        CASES[(method, path)] = check
        return check

    return register


@case("POST", "/api/v1/session")
def _sign_in(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    # A's user name with B's Cloud ID does not sign in to A.
    answer = b.client.post(
        "/api/v1/session",
        json={"cloud_id": b.org.cloud_id, "username": "only-in-a", "password": "x"},
    )
    assert answer.status_code == 401
    me = b.client.get("/api/v1/session", headers=hb).json()
    assert me["cloud_id"] == b.org.cloud_id


@case("GET", "/api/v1/session")
def _who(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get("/api/v1/session", headers=hb).json()["cloud_id"] == b.org.cloud_id


@case("DELETE", "/api/v1/session")
def _out(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    ha = a.sign_in()
    assert b.client.delete("/api/v1/session", headers=b.sign_in()).status_code == 204
    assert a.client.get("/api/v1/session", headers=ha).status_code == 200


@case("POST", "/api/v1/messages")
def _read(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    body = b.client.post(
        "/api/v1/messages",
        content=fixture_bytes("encoded-words.eml"),
        headers={**hb, "Content-Type": "message/rfc822"},
    ).json()
    # A's contacts hold these addresses; B has none.
    assert {p["status"] for p in body["participants"]} == {"no_contact"}


@case("GET", "/api/v1/messages/{ref}")
def _review(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get(f"/api/v1/messages/{ids['ref']}", headers=hb).status_code == 404


@case("POST", "/api/v1/messages/{ref}/interactions")
def _save_i(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    answer = b.client.post(f"/api/v1/messages/{ids['ref']}/interactions", json={}, headers=hb)
    assert answer.status_code == 404


@case("POST", "/api/v1/messages/{ref}/preview")
def _preview(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    answer = b.client.post(f"/api/v1/messages/{ids['ref']}/preview", json={}, headers=hb)
    assert answer.status_code == 404


@case("POST", "/api/v1/messages/{ref}/activities")
def _save_a(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    answer = b.client.post(f"/api/v1/messages/{ids['ref']}/activities", json={}, headers=hb)
    assert answer.status_code == 404
    # Saving B's own upload to A's contact ID adds nothing to A.
    ref = b.read("text-only.eml", hb)["message_ref"]
    results = b.client.post(
        f"/api/v1/messages/{ref}/interactions", json={"contact_ids": [ids["contact"]]}, headers=hb
    ).json()["results"]
    assert results[0]["status"] == "no_contact"
    assert a.org.records(ids["contact"]) == []


@case("GET", "/api/v1/contacts")
def _search(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get("/api/v1/contacts", params={"q": "Only In A"}, headers=hb).json() == []
    assert b.client.get("/api/v1/contacts", params={"q": "archer"}, headers=hb).json() == []


@case("POST", "/api/v1/contacts")
def _add(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    new = b.client.post(
        "/api/v1/contacts", json={"full_name": "B person", "emails": ["only@a.example"]}, headers=hb
    ).json()
    ha = a.sign_in()
    assert [
        c["id"] for c in a.client.get("/api/v1/contacts", params={"q": "only@a"}, headers=ha).json()
    ] == [ids["contact"]]
    assert new["full_name"] == "B person"


@case("GET", "/api/v1/contacts/{contact_id}")
def _contact(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get(f"/api/v1/contacts/{ids['contact']}", headers=hb).status_code == 404
    assert b.client.get("/api/v1/contacts/101", headers=hb).status_code == 404


@case("GET", "/api/v1/attachments/{attachment_id}")
def _download(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get(f"/api/v1/attachments/{ids['attachment']}", headers=hb).status_code == 404


@case("GET", "/api/v1/options")
def _options(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    assert b.client.get("/api/v1/options", headers=hb).json()["max_total_emails"] == 50


@case("PUT", "/api/v1/options")
def _change(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    options = b.client.get("/api/v1/options", headers=hb).json()
    del options["can_change"]
    assert (
        b.client.put(
            "/api/v1/options", json={**options, "max_total_emails": 2}, headers=hb
        ).status_code
        == 200
    )
    assert a.client.get("/api/v1/options", headers=a.sign_in()).json()["max_total_emails"] == 50


@case("GET", "/api/v1/options/activity-types")
def _crm_activity_types(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    # What B's own CRM offers (the built-in catalogue); B's staff may not ask.
    answer = b.client.get("/api/v1/options/activity-types", headers=hb)
    assert [t["code"] for t in answer.json()] == ["EMAIL"]
    staff = b.client.get("/api/v1/options/activity-types", headers=b.sign_in())
    assert staff.status_code == 403


@case("POST", "/api/v1/options/check")
def _check_the_set_up(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    # B's own CRM only (the built-in one: nothing to check); B's staff may not ask.
    answer = b.client.post("/api/v1/options/check", headers=hb)
    assert answer.status_code == 400
    assert b.org.cloud_id in answer.json()["detail"] and a.org.cloud_id not in answer.text
    staff = b.client.post("/api/v1/options/check", headers=b.sign_in())
    assert staff.status_code == 403


@case("GET", "/api/v1/users")
def _users(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    b.client.post(
        "/api/v1/users", json={"username": "bonly", "password": "long enough"}, headers=hb
    )
    names = [u["username"] for u in b.client.get("/api/v1/users", headers=hb).json()]
    assert names == ["admin", "bonly", "jdoe"]  # B's own, never A's


@case("POST", "/api/v1/users")
def _add_user(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    b.client.post("/api/v1/users", json={"username": "newb", "password": "long enough"}, headers=hb)
    assert "newb" not in [
        u["username"] for u in a.client.get("/api/v1/users", headers=a.sign_in("admin")).json()
    ]


@case("PATCH", "/api/v1/users/{username}")
def _patch_user(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    # "jdoe" exists in both: B's admin changes B's jdoe only.
    ha = a.sign_in()
    assert (
        b.client.patch("/api/v1/users/jdoe", json={"disabled": True}, headers=hb).status_code == 200
    )
    assert a.client.get("/api/v1/session", headers=ha).status_code == 200
    assert (
        b.client.patch("/api/v1/users/only-in-a", json={"disabled": True}, headers=hb).status_code
        == 404
    )


def _a_record_to_check(a: Api) -> int:
    """An unsure record of A's (its CRM never answered), by its number."""
    with a.org.service.unit() as session:
        organisation = session.scalars(
            select(Organisation).where(Organisation.cloud_id == a.org.cloud_id)
        ).one()
        entry = FilingEntry(
            organisation_id=organisation.id, contact_id="101", kind="interaction",
            message_key="<unsure@a.example>", copy=0, state="unsure", subject="Unsure",
            saved_by="jdoe", reserved_at=datetime(2026, 11, 2, tzinfo=UTC), reason="no answer",
        )  # fmt: skip
        session.add(entry)
        session.flush()
        return entry.id


@case("GET", "/api/v1/records/to-check")
def _to_check(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    _a_record_to_check(a)
    assert b.client.get("/api/v1/records/to-check", headers=hb).json() == []
    assert b.client.get("/api/v1/records/to-check", headers=b.sign_in()).status_code == 403
    mine = a.client.get("/api/v1/records/to-check", headers=a.sign_in("admin")).json()
    assert [r["reason"] for r in mine] == ["no answer"]


@case("POST", "/api/v1/records/to-check/{number}")
def _settle(a: Api, b: Api, ids: dict[str, str], hb: dict[str, str]) -> None:
    number = _a_record_to_check(a)
    answer = b.client.post(f"/api/v1/records/to-check/{number}", json={"landed": "1"}, headers=hb)
    assert answer.status_code == 404
    mine = a.client.get("/api/v1/records/to-check", headers=a.sign_in("admin")).json()
    assert [r["status"] for r in mine] == ["unsure"]


def test_every_route_is_checked(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_route_crosses_organisations(
    route: tuple[str, str], two: tuple[Api, Api, dict[str, str]]
) -> None:
    a, b, ids = two
    CASES[route](a, b, ids, b.sign_in("admin"))
    # Whatever B did, A's records are as they were.
    assert sorted(r.contact_id for r in a.org.records()) == ["101", "102", "103"]
