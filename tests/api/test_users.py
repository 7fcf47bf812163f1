"""Organisation admins manage users; nobody else may."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfiler.api.app import create_app
from mailfiler.service import Service
from tests.api.conftest import Api
from tests.api.test_imis_org import headers as imis_headers
from tests.imis_site import Site, new_imis_org


def test_admins_list_add_disable_and_set_roles(api: Api) -> None:
    admin = api.sign_in("admin")
    listed = api.client.get("/api/v1/users", headers=admin).json()
    assert [u["username"] for u in listed] == ["admin", "jdoe"]
    assert "password" not in str(listed) and "hash" not in str(listed)
    added = api.client.post(
        "/api/v1/users",
        json={
            "username": "mlee",
            "email": "mlee@acme.example",
            "roles": ["Staff"],
            "password": "long enough",
        },
        headers=admin,
    )
    assert added.status_code == 201
    assert (
        api.client.post(
            "/api/v1/users", json={"username": "mlee", "password": "long enough"}, headers=admin
        ).status_code
        == 409
    )
    roles = api.client.patch(
        "/api/v1/users/mlee", json={"roles": ["Staff", "Membership"]}, headers=admin
    )
    assert roles.json()["roles"] == ["Staff", "Membership"]
    mlee = api.sign_in("mlee", "long enough")
    assert api.client.get("/api/v1/session", headers=mlee).json()["user"]["roles"] == [
        "Staff",
        "Membership",
    ]
    assert api.client.patch("/api/v1/users/mlee", json={"disabled": True}, headers=admin).json()[
        "disabled"
    ]
    assert api.client.get("/api/v1/session", headers=mlee).status_code == 401


def test_other_users_may_not_manage_users(api: Api) -> None:
    staff = api.sign_in()
    assert api.client.get("/api/v1/users", headers=staff).status_code == 403
    assert (
        api.client.post(
            "/api/v1/users", json={"username": "x", "password": "long enough"}, headers=staff
        ).status_code
        == 403
    )
    assert (
        api.client.patch("/api/v1/users/admin", json={"disabled": True}, headers=staff).status_code
        == 403
    )


def test_an_imis_organisation_adds_its_users_in_imis(service: Service, site: Site) -> None:
    org = new_imis_org(service, site)
    with TestClient(create_app(service.settings, service)) as client:
        admin = imis_headers(client, org, "admin")
        refused = client.post(
            "/api/v1/users", json={"username": "mlee", "password": "long enough"}, headers=admin
        )
        assert refused.status_code == 400
        assert refused.json()["detail"] == (
            f"{org.cloud_id}'s users sign in with their iMIS accounts: add them in iMIS"
        )
        names = [u["username"] for u in client.get("/api/v1/users", headers=admin).json()]
    assert names == ["admin"]  # remembered from their own sign-in, nobody added
