"""Organisation admins manage users; nobody else may."""

from __future__ import annotations

from tests.api.conftest import Api


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
