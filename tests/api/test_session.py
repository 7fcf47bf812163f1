"""Sign-in with a Cloud ID: tokens, expiry, renewal, revocation, throttling, secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mailfiler import logs
from mailfiler.storage.tables import SignInSession, SignInThrottle
from tests.api.conftest import Api
from tests.conftest import fixture_bytes


def test_signing_in_gives_a_token_for_24_hours(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/session",
        json={
            "cloud_id": api.org.cloud_id.lower(),
            "username": "JDOE",
            "password": "jdoe-password",
        },
    )
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) >= {"token", "expires_at", "user"}
    # The same user as the users list names (one user type on the wire).
    assert body["user"] == {"username": "jdoe", "roles": ["Staff"], "email": "jdoe@acme.example",
                            "disabled": False}  # fmt: skip
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    me = api.client.get("/api/v1/session", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == "jdoe"


@pytest.mark.parametrize(
    ("cloud_id", "username", "password"),
    [
        ("NO-SUCH-ORG", "jdoe", "jdoe-password"),
        (None, "ghost", "jdoe-password"),
        (None, "jdoe", "wrong password"),
    ],
)
def test_every_wrong_answer_is_the_same_401(
    api: Api, cloud_id: str | None, username: str, password: str
) -> None:
    answer = api.client.post(
        "/api/v1/session",
        json={"cloud_id": cloud_id or api.org.cloud_id, "username": username, "password": password},
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "The Cloud ID, user name or password is not right"


def test_signing_out_and_unknown_tokens(api: Api) -> None:
    headers = api.sign_in()
    assert api.client.delete("/api/v1/session", headers=headers).status_code == 204
    assert api.client.get("/api/v1/session", headers=headers).status_code == 401
    assert api.client.get("/api/v1/session").status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    answer = api.client.get("/api/v1/options", headers=bogus)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


def test_disabling_a_user_or_changing_a_password_ends_their_sign_ins(api: Api) -> None:
    admin = api.sign_in("admin")
    jdoe = api.sign_in()
    assert (
        api.client.patch(
            "/api/v1/users/jdoe", json={"password": "a brand new one"}, headers=admin
        ).status_code
        == 200
    )
    assert api.client.get("/api/v1/session", headers=jdoe).status_code == 401
    jdoe = api.sign_in("jdoe", "a brand new one")
    assert (
        api.client.patch("/api/v1/users/jdoe", json={"disabled": True}, headers=admin).status_code
        == 200
    )
    assert api.client.get("/api/v1/session", headers=jdoe).status_code == 401
    refused = api.client.post(
        "/api/v1/session",
        json={"cloud_id": api.org.cloud_id, "username": "jdoe", "password": "a brand new one"},
    )
    assert refused.status_code == 401


def test_an_expired_token_is_refused_and_a_used_one_is_renewed(api: Api) -> None:
    headers = api.sign_in()
    with api.org.service.unit() as session:
        session.execute(
            update(SignInSession).values(expires_at=datetime.now(UTC) + timedelta(hours=2))
        )
    renewed = api.client.get("/api/v1/session", headers=headers)
    assert renewed.status_code == 200
    new_expiry = datetime.fromisoformat(renewed.headers["X-Session-Expires"])
    assert new_expiry - datetime.now(UTC) > timedelta(hours=23)
    # Reading a message tells the pane its sign-in's end too.
    read = api.client.post(
        "/api/v1/messages",
        content=fixture_bytes("ambiguous.eml"),
        headers={**headers, "Content-Type": "message/rfc822"},
    )
    assert datetime.fromisoformat(read.headers["X-Session-Expires"]) == new_expiry
    with api.org.service.unit() as session:
        session.execute(
            update(SignInSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = api.client.get("/api/v1/session", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_repeated_failures_are_throttled_per_user(api: Api) -> None:
    wrong = {"cloud_id": api.org.cloud_id, "username": "jdoe", "password": "guess"}
    codes = [api.client.post("/api/v1/session", json=wrong).status_code for _ in range(6)]
    assert codes == [401, 401, 401, 401, 401, 429]
    right = {**wrong, "password": "jdoe-password"}
    blocked = api.client.post("/api/v1/session", json=right)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    # A sentence that starts with a capital and says how long to wait.
    assert blocked.json()["detail"] == "Too many failed sign-ins: try again in 15 minutes"
    # Another user is not blocked by jdoe's failures.
    assert (
        api.client.post(
            "/api/v1/session", json={**right, "username": "admin", "password": "admin-pass"}
        ).status_code
        == 201
    )


def test_repeated_failures_are_throttled_per_client_address(api: Api) -> None:
    for number in range(20):
        api.client.post(
            "/api/v1/session",
            json={"cloud_id": api.org.cloud_id, "username": f"user{number}", "password": "x"},
        )
    answer = api.client.post(
        "/api/v1/session",
        json={"cloud_id": api.org.cloud_id, "username": "admin", "password": "admin-pass"},
    )
    assert answer.status_code == 429
    with api.org.service.unit() as session:
        session.execute(SignInThrottle.__table__.delete())


def test_tokens_are_stored_hashed_and_secrets_stay_out_of_logs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = api.sign_in()
    token = headers["Authorization"].split()[1]
    with api.org.service.unit() as session:
        stored = session.scalars(select(SignInSession.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64
    api.client.post(
        "/api/v1/session",
        json={"cloud_id": api.org.cloud_id, "username": "jdoe", "password": "secret-guess-123"},
    )
    logs.get_logger("mailfiler.api").warning(
        "saved for ann@members.example with %s", headers["Authorization"]
    )
    text = caplog.text
    assert "secret-guess-123" not in text and "jdoe-password" not in text
    assert token not in text and "ann@members.example" not in text
    assert "[address]@members.example" in text
