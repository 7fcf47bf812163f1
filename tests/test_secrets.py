"""storage/secrets.py: several keys in MAILFILER_SECRET_KEY, and rotating them with
``mailfiler rotate-key``, on both databases (each test with a database of its own: a
rotation rewrites every organisation's secrets, not only its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfiler.api.app import create_app
from mailfiler.config import Settings
from mailfiler.connectors.imis.client import forget_tokens
from mailfiler.errors import BadRequest
from mailfiler.service import Service
from mailfiler.storage import secrets
from mailfiler.storage.secrets import KEY_VARIABLE, KeyUnusable, Unreadable, background_password
from mailfiler.storage.tables import Organisation, SignInSession, User
from tests.api.test_imis_org import headers
from tests.conftest import fixture_bytes, new_org, new_postgresql_database
from tests.imis_site import MANAGER_PASSWORD, SECRET_KEY, Site, new_imis_org
from tests.test_cli import Cli

OLD = SECRET_KEY
NEW = "the-new-key-of-the-installation"
OTHER = "a-key-nobody-has-any-more"


def keyed(*keys: str) -> dict[str, str]:
    return {KEY_VARIABLE: ",".join(keys)}


# -- keys ---------------------------------------------------------------------------------


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    under_old = secrets.encrypt("manager-secret", keyed(OLD))
    assert secrets.decrypt(under_old, keyed(NEW, OLD)) == "manager-secret"
    under_new = secrets.encrypt("manager-secret", keyed(NEW, OLD))
    assert secrets.decrypt(under_new, keyed(NEW)) == "manager-secret"
    with pytest.raises(Unreadable):
        secrets.decrypt(under_new, keyed(OLD))


def test_keys_are_separated_by_commas_and_spaces_around_them_do_not_count() -> None:
    stored = secrets.encrypt("s", keyed(OLD))
    assert secrets.decrypt(stored, {KEY_VARIABLE: f"  {NEW} ,\n {OLD} ,"}) == "s"
    assert secrets.decrypt(secrets.encrypt("s", {KEY_VARIABLE: f" {OLD}\n"}), keyed(OLD)) == "s"


def test_a_missing_or_short_key_is_named_and_never_shown() -> None:
    # Storing is an administrator's request (set the key first); reading is the system's fault.
    with pytest.raises(BadRequest, match=f"{KEY_VARIABLE} is not set"):
        secrets.encrypt("s", {})
    stored = secrets.encrypt("s", keyed(OLD))
    with pytest.raises(KeyUnusable, match=f"{KEY_VARIABLE} is not set"):
        secrets.decrypt(stored, {KEY_VARIABLE: " , "})
    with pytest.raises(KeyUnusable, match=f"^{KEY_VARIABLE} is too short"):
        secrets.keys(keyed("short"))
    with pytest.raises(KeyUnusable) as short:
        secrets.keys(keyed(NEW, "short-secret"))
    assert str(short.value).startswith(f"key number 2 in {KEY_VARIABLE} is too short")
    assert "short-secret" not in str(short.value)


def test_a_background_password_no_key_opens_says_what_an_administrator_can_do() -> None:
    stored = secrets.encrypt("manager-secret", keyed(OTHER))
    for changed in (stored, stored[:-4] + "AAAA", "not even base64 é"):
        with pytest.raises(Unreadable) as refused:
            secrets.decrypt(changed, keyed(NEW, OLD))
        assert "background password cannot be decrypted with any key" in str(refused.value)
        assert "set the password again" in str(refused.value)


# -- rotating: mailfiler rotate-key ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def own_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rotation.db'}"
    else:
        with new_postgresql_database("mailfiler_rotation") as url:
            yield url


@pytest.fixture
def own_service(own_url: str, tmp_path: Path) -> Iterator[Service]:
    service = Service(
        Settings(database_url=own_url, blobs_dir=tmp_path / "blobs", allow_local_crm=True)
    )
    service.migrate()
    yield service
    service.close()


@pytest.fixture
def mf(own_url: str, tmp_path: Path) -> Cli:
    return Cli(own_url, tmp_path / "blobs")


def test_after_a_rotation_and_the_old_key_dropped_sign_ins_search_and_save(
    own_service: Service, mf: Cli, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, OLD)
    org = new_imis_org(own_service, site)
    with TestClient(create_app(own_service.settings, own_service)) as client:
        auth = headers(client, org)
        monkeypatch.setenv(KEY_VARIABLE, f"{NEW},{OLD}")
        rotated = mf("rotate-key")
        assert rotated.exit_code == 0, rotated.output
        assert (
            "first key of MAILFILER_SECRET_KEY: 2\n" in rotated.output
        )  # the password, the sign-in
        monkeypatch.setenv(KEY_VARIABLE, NEW)
        forget_tokens()  # the background account signs in to iMIS again: its password is read
        found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
        assert found.status_code == 200, found.text
        assert [c["id"] for c in found.json()] == ["101"]
        assert site.standin.searches == [("jdoe", "archer")]  # still as jdoe, with their token
        read = client.post(
            "/api/v1/messages",
            content=fixture_bytes("text-only.eml"),
            headers={**auth, "Content-Type": "message/rfc822"},
        )
        assert read.status_code == 201, read.text
        ref = read.json()["message_ref"]
        saved = client.post(f"/api/v1/messages/{ref}/interactions", json={}, headers=auth)
        assert saved.status_code == 200, saved.text
        assert {r["status"] for r in saved.json()["results"]} == {"saved"}
    assert site.standin.token_requests.count("MANAGER") == 2  # before and after the rotation
    with own_service.unit(reading=True) as session:
        stored = session.scalar(
            select(Organisation.background_secret).where(Organisation.cloud_id == org.cloud_id)
        )
    assert stored is not None
    with pytest.raises(Unreadable):
        secrets.decrypt(stored, keyed(OLD))


def test_a_rotation_names_what_no_key_opens_and_leaves_it_as_it_was(
    own_service: Service, mf: Cli, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, OLD)
    kept = new_imis_org(own_service, site)
    monkeypatch.setenv(KEY_VARIABLE, OTHER)
    lost = new_imis_org(own_service, site)
    builtin = new_org(own_service, with_contacts=False)
    sealed = secrets.encrypt(json.dumps({"token": "t", "ends": "2030-01-01T00:00:00+00:00"}))
    started = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    with own_service.unit() as session:
        jdoe = session.scalars(
            select(User).join(Organisation).where(Organisation.cloud_id == builtin.cloud_id)
        ).first()
        assert jdoe is not None
        username = jdoe.username
        session.add(
            SignInSession(
                token_hash="0" * 64, user_id=jdoe.id, organisation_id=jdoe.organisation_id,
                created_at=started, expires_at=started + timedelta(hours=24), crm_token=sealed,
            )
        )  # fmt: skip
        before = session.scalar(
            select(Organisation.background_secret).where(Organisation.cloud_id == lost.cloud_id)
        )
    monkeypatch.setenv(KEY_VARIABLE, f"{NEW},{OLD}")
    rotated = mf("rotate-key")
    assert rotated.exit_code == 1, rotated.output
    assert "first key of MAILFILER_SECRET_KEY: 1\n" in rotated.output
    assert f"the background password of {lost.cloud_id} (set it again" in rotated.output
    assert f"the sign-in of {username} at {builtin.cloud_id} of 2026-03-04 09:30 UTC" in (
        rotated.output
    )
    assert kept.cloud_id not in rotated.output
    with own_service.unit(reading=True) as session:
        background = dict(
            session.execute(select(Organisation.cloud_id, Organisation.background_secret)).all()
        )
        token = session.scalar(select(SignInSession.crm_token))
    assert background[lost.cloud_id] == before and token == sealed  # as they were
    monkeypatch.setenv(KEY_VARIABLE, NEW)  # re-encrypted: the new key alone opens it
    assert background_password(background[kept.cloud_id] or "").password == MANAGER_PASSWORD


def test_a_rotation_without_a_key_says_to_set_one(
    own_service: Service, mf: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    refused = mf("rotate-key")
    assert refused.exit_code == 2
    assert f"{KEY_VARIABLE} is not set" in refused.output
