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
from tests.imis_site import (
    MANAGER_PASSWORD,
    PASSWORDS,
    SEARCH_QUERY,
    Site,
    imis_site,
    new_imis_org,
    recorded_pauses,
    set_site,
)


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
    client: TestClient, org: Org, site: Site
) -> None:
    set_site(org, "http://127.0.0.1:9")  # nothing listens there
    with recorded_pauses():
        answer = sign_in(client, org)
    assert answer.status_code == 503
    assert (
        answer.json()["detail"] == "Mailfiler cannot reach your iMIS site: tell your administrator"
    )


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
        "crm": "imis", "label": "iMIS", "remote": True, "url": site.url,
        "background_account": "MANAGER",
        "background_password_set": True, "mapping": {"search_query": SEARCH_QUERY},
    }  # fmt: skip
    del options["can_change"]
    options["crm"]["mapping"] = {"new_address_purpose": "Work"}
    options["crm"]["background_password"] = "a-new-secret"
    site.standin.users["manager"].password = "a-new-secret"  # changed in iMIS too
    changed = client.put("/api/v1/options", json=options, headers=auth)
    assert changed.status_code == 200, changed.text
    assert "a-new-secret" not in changed.text
    assert changed.json()["crm"]["mapping"]["new_address_purpose"] == "Work"
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
    assert attachment["Name"].endswith(".eml") and len(attachment["Name"]) <= 50
    assert attachment["Attachment"].startswith(b"From:") or b"Subject:" in attachment["Attachment"]


# -- the address and the mapping an Options admin may set (issue 14, finding 2) --------------


def _options(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = client.get("/api/v1/options", headers=auth).json()
    del options["can_change"]
    return options


def test_a_new_address_needs_the_password_in_the_same_change(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org, "admin")
    options = _options(client, auth)
    with imis_site() as other:
        options["crm"]["url"] = other.url
        refused = client.put("/api/v1/options", json=options, headers=auth)
        assert refused.status_code == 400
        detail = refused.json()["detail"]
        assert "needs the background account's password in the same change" in detail
        assert _options(client, auth)["crm"]["url"] == site.url  # nothing changed
        # The address it has, as sent back, is no change: no password needed.
        options["crm"]["url"] = site.url + "/"
        assert client.put("/api/v1/options", json=options, headers=auth).status_code == 200
        # A new account needs it too: the password is kept for the account it was set for.
        options["crm"]["background_account"] = "SERVICE"
        refused = client.put("/api/v1/options", json=options, headers=auth)
        assert refused.status_code == 400 and "needs its password" in refused.json()["detail"]
        # With the password: changed, and the next call goes to the new site.
        options["crm"] = {"url": other.url, "background_password": MANAGER_PASSWORD}
        assert client.put("/api/v1/options", json=options, headers=auth).status_code == 200
        assert org.inspect("text-only.eml")
        assert other.standin.token_requests == ["MANAGER"]


@pytest.mark.parametrize(
    ("url", "resolved", "said"),
    [
        ("https://169.254.169.254", None, "it is a private, loopback or link-local address"),
        ("https://10.0.0.5:8443", None, "it is a private, loopback or link-local address"),
        ("https://[::ffff:127.0.0.1]:22", None, "it is a private, loopback or link-local"),
        ("https://127.0.0.1:5432", None, "it is a private, loopback or link-local address"),
        ("https://intranet.acme.example", "192.168.4.20", "its name leads to a private"),
        ("https://cgnat.acme.example", "100.64.9.9", "its name leads to a private"),
        ("https://all.acme.example", "0.0.0.0", "never an iMIS site"),  # noqa: S104
        ("http://imis.acme.example", "93.184.215.14", "must start with https://"),
    ],
)
def test_addresses_an_admin_may_not_aim_the_server_at(
    service: Service, org: Org, site: Site, monkeypatch: pytest.MonkeyPatch,
    url: str, resolved: str | None, said: str,
) -> None:  # fmt: skip
    from dataclasses import replace

    from mailfiler.connectors.imis import site_address

    def resolver(host: str, port: int) -> list[str]:  # the stand-in's address stays its own
        return [resolved] if resolved and host.endswith(".acme.example") else [host]

    monkeypatch.setattr(site_address, "system_resolver", resolver)
    strict = Service(replace(service.settings, allow_local_crm=False), service.database)
    with TestClient(create_app(service.settings, service)) as tests:
        auth = headers(client=tests, org=org, username="admin")  # (the stand-in is local)
    with TestClient(create_app(strict.settings, strict)) as production:
        options = _options(production, auth)
        options["crm"] = {"url": url, "background_password": MANAGER_PASSWORD}
        with recorded_pauses():
            refused = production.put("/api/v1/options", json=options, headers=auth)
    assert refused.status_code == 400, refused.text
    assert said in refused.json()["detail"]
    assert "refused" not in refused.json()["detail"] and "open" not in refused.json()["detail"]
    assert site.standin.token_requests.count("MANAGER") == 1  # only the admin's sign-in's


@pytest.mark.parametrize(
    "mapping",
    [
        {"interaction_entity": "../../token"},
        {"timeout_seconds": -5},
        {"retries": 100_000},
        {"page_size": 0},
    ],
)
def test_mapping_values_are_checked(client: TestClient, org: Org, mapping: dict[str, Any]) -> None:
    auth = headers(client, org, "admin")
    options = _options(client, auth)
    options["crm"]["mapping"] = mapping
    refused = client.put("/api/v1/options", json=options, headers=auth)
    assert refused.status_code == 400 and next(iter(mapping)) in refused.json()["detail"]
    assert _options(client, auth)["crm"]["mapping"] == {"search_query": SEARCH_QUERY}


def test_a_broken_site_never_blocks_the_change_that_repairs_it(
    client: TestClient, org: Org, site: Site
) -> None:
    auth = headers(client, org, "admin")  # signed in while the site worked
    with recorded_pauses():
        set_site(org, "http://127.0.0.1:9")  # then the address went wrong
        options = _options(client, auth)
        asked = len(site.standin.requests)
        # Options that do not touch the activity types ask nothing of the CRM.
        assert client.put("/api/v1/options", json={**options, "max_total_emails": 7},
                          headers=auth).status_code == 200  # fmt: skip
        # Setting up an activity type anew needs the CRM: as the change being saved says.
        call = {"code": "CALL", "name": "Call", "fields": [{"name": "NOTE", "label": "Notes"}],
                "defaults": {}, "mapping": {}, "roles": []}  # fmt: skip
        with_call = {**options, "activity_types": [*options["activity_types"], call]}
        broken = client.put("/api/v1/options", json=with_call, headers=auth)
        assert broken.status_code == 503
        unreachable = "Mailfiler cannot reach your iMIS site: tell your administrator"
        assert broken.json()["detail"] == unreachable
        assert site.standin.requests[asked:] == []
        repaired = {**with_call, "crm": {"url": site.url, "background_password": MANAGER_PASSWORD}}
        answer = client.put("/api/v1/options", json=repaired, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["crm"]["url"] == site.url
    assert [t["code"] for t in answer.json()["activity_types"]] == ["EMAIL", "CALL"]
    assert site.standin.requests[asked:] == [("GET", "/api/LegacyActivityType")]


# -- a staff member works as themselves in iMIS: their search with their own sign-in, never
# quietly as the background account; their roles read from iMIS, or the sign-in refused with
# why, never taken as "no roles" ------------------------------------------------------------


def test_a_search_never_runs_as_the_background_account_once_the_users_own_has_ended(
    client: TestClient, org: Org, site: Site
) -> None:
    headers(client, org)  # the background account's token, got at a first sign-in
    # iMIS gives a user's token a life of its own: once it has ended, mailfiler's sign-in
    # still holds, but the search asks the user to sign in again.
    site.standin.token_lifetime = 0
    ended = headers(client, org)
    answer = client.get("/api/v1/contacts", params={"q": "baker"}, headers=ended)
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"] == "Your iMIS sign-in has ended: sign in again"
    assert site.standin.searches == []  # not as MANAGER either


def test_a_user_whose_roles_imis_does_not_give_is_told_why_and_not_signed_in(
    client: TestClient, org: Org, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.standin.unlisted_users.add("jdoe")  # /token takes the password, /api/User lists nobody
    answer = sign_in(client, org, "jdoe")
    assert answer.status_code == 503, answer.text
    assert "cannot read your roles in iMIS" in answer.json()["detail"]
    assert "lists no such user" in caplog.text
    site.standin.unlisted_users.clear()
    assert sign_in(client, org, "jdoe").status_code == 201
