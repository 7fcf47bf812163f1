"""An iMIS organisation over HTTP: staff sign in with their iMIS passwords and file into iMIS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfiler.api.app import create_app
from mailfiler.service import Service
from mailfiler.storage.tables import Organisation, User
from tests.conftest import Org, fixture_bytes
from tests.imis_site import MANAGER_PASSWORD, PASSWORDS, Site, new_imis_org


@pytest.fixture
def org(service: Service, site: Site) -> Org:
    return new_imis_org(service, site)


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


def sign_in(client: TestClient, org: Org, username: str = "jdoe", password: str = "") -> Any:
    return client.post(
        "/api/v1/session",
        json={"cloud_id": org.cloud_id, "username": username,
              "password": password or PASSWORDS[username]},
    )  # fmt: skip


def headers(client: TestClient, org: Org, username: str = "jdoe") -> dict[str, str]:
    answer = sign_in(client, org, username)
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_staff_sign_in_with_their_imis_password_and_roles(
    client: TestClient, org: Org, site: Site
) -> None:
    answer = sign_in(client, org, "admin")
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["roles"] == ["SysAdmin", "Staff"]
    assert sign_in(client, org, "jdoe", "not-it").status_code == 401
    assert sign_in(client, org, "nobody", "whatever").status_code == 401
    with org.service.unit() as session:
        rows = session.scalars(select(User).join(Organisation).where(
            Organisation.cloud_id == org.cloud_id)).all()  # fmt: skip
        assert {r.username for r in rows} == {"admin"}
        assert all(r.password_hash is None for r in rows)  # no copy of the password
        stored = session.scalar(
            select(Organisation.background_secret).where(Organisation.cloud_id == org.cloud_id)
        )
    assert stored and MANAGER_PASSWORD not in stored  # encrypted at rest


def test_imis_down_at_sign_in_is_a_clear_503_and_counts_no_failure(
    client: TestClient, org: Org, site: Site, service: Service
) -> None:
    with service.unit() as session:
        row = session.scalars(
            select(Organisation).where(Organisation.cloud_id == org.cloud_id)
        ).one()
        row.crm_settings = {"url": "http://127.0.0.1:9"}  # nothing listens there
    answer = sign_in(client, org)
    assert answer.status_code == 503
    assert "cannot be reached" in answer.json()["detail"]


def test_reading_and_saving_a_message_files_it_in_imis(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org)
    read = client.post(
        "/api/v1/messages",
        content=fixture_bytes("encoded-words.eml"),
        headers={**auth, "Content-Type": "message/rfc822"},
    )
    assert read.status_code == 201, read.text
    body = read.json()
    assert [p["status"] for p in body["participants"]] == ["would_save"] * 3
    assert any("iMIS dates an interaction" in n for n in body["notes"])
    ref = body["message_ref"]
    saved = client.post(f"/api/v1/messages/{ref}/interactions", json={}, headers=auth)
    assert saved.status_code == 200, saved.text
    assert {r["status"] for r in saved.json()["results"]} == {"saved"}
    assert len(site.standin.interactions) == 3
    again = client.post(f"/api/v1/messages/{ref}/interactions", json={}, headers=auth)
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    # The staff site shows, from the ledger, what was filed, linked into iMIS.
    timeline = client.get("/api/v1/contacts/101", headers=auth).json()
    [item] = timeline["timeline"]["items"]
    assert item["subject"] == "Réunion du comité à Zürich"
    assert item["saved_by"] == "jdoe" and item["created_by"] == "MANAGER"


def test_contacts_are_searched_as_the_signed_in_user(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org)
    found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()] == ["101"]
    assert site.standin.searches == [("jdoe", "archer")]  # with jdoe's own token


def test_the_crm_settings_change_and_the_password_is_never_shown(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org, "admin")
    options = client.get("/api/v1/options", headers=auth).json()
    assert options["crm"] == {
        "kind": "imis", "url": site.url, "background_account": "MANAGER",
        "background_password_set": True, "mapping": {},
    }  # fmt: skip
    del options["can_change"]
    options["crm"]["mapping"] = {"interaction_message_type_value": "E-mail"}
    options["crm"]["background_password"] = "a-new-secret"
    changed = client.put("/api/v1/options", json=options, headers=auth)
    assert changed.status_code == 200, changed.text
    assert "a-new-secret" not in changed.text
    assert changed.json()["crm"]["mapping"]["interaction_message_type_value"] == "E-mail"
    bad = {**options, "crm": {"mapping": {"no_such_name": "x"}}}
    refused = client.put("/api/v1/options", json=bad, headers=auth)
    assert refused.status_code == 400 and "no_such_name" in refused.json()["detail"]
    types = client.get("/api/v1/options/activity-types", headers=auth).json()
    assert [t["code"] for t in types] == ["EMAIL", "CALL"]  # DUES is a system type
    assert {"name": "UF_1", "label": "Other participants"} in types[0]["fields"]


def test_activity_types_set_up_must_be_ones_imis_has(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org, "admin")
    options = client.get("/api/v1/options", headers=auth).json()
    del options["can_change"]
    dues = {
        "code": "DUES",
        "name": "Dues",
        "fields": [],
        "defaults": {},
        "mapping": {},
        "roles": [],
    }
    refused = client.put(
        "/api/v1/options",
        json={**options, "activity_types": [dues], "default_activity_type": "DUES"},
        headers=auth,
    )
    assert refused.status_code == 400 and "system activity type" in refused.json()["detail"]
    fax = {**dues, "code": "FAX"}
    refused = client.put(
        "/api/v1/options",
        json={**options, "activity_types": [fax], "default_activity_type": "FAX"},
        headers=auth,
    )
    assert (
        refused.status_code == 400 and "iMIS has no activity type FAX" in refused.json()["detail"]
    )
    call = {**dues, "code": "CALL", "fields": [{"name": "UF_1", "label": "Room"}]}
    refused = client.put(
        "/api/v1/options",
        json={**options, "activity_types": [call], "default_activity_type": "CALL"},
        headers=auth,
    )
    assert refused.status_code == 400 and "has no field UF_1" in refused.json()["detail"]
    call["fields"] = [{"name": "NOTE", "label": "Notes"}]
    changed = {**options, "activity_types": [*options["activity_types"], call]}
    assert client.put("/api/v1/options", json=changed, headers=auth).status_code == 200


def test_a_contact_added_from_the_pane_is_made_in_imis(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org, "admin")
    added = client.post(
        "/api/v1/contacts",
        json={"full_name": "Zoe New", "emails": ["zoe@new.example"], "organization": "New Ltd"},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    party = site.standin.parties[added.json()["id"]]
    assert (party.name, party.emails, party.organization) == (
        "Zoe New", ["zoe@new.example"], "New Ltd"
    )  # fmt: skip


def test_the_whole_message_as_eml_goes_to_imis_as_one_file(org: Org, site: Site) -> None:
    outcome = org.file("encoded-words.eml", eml=True, contact_ids=frozenset({"101"}))
    assert [p.status for p in outcome.participants if p.contact_id == "101"] == ["saved"]
    [attachment] = site.standin.attachments
    assert attachment["FileName"].endswith(".eml") and len(attachment["FileName"]) <= 50
    assert attachment["Content"].startswith(b"From:") or b"Subject:" in attachment["Content"]
