"""An iMIS organisation's sign-ins when MAILFILER_SECRET_KEY is missing, wrong or changed:
the server's fault is never counted against the user, and a sign-in whose sealed iMIS
token no key opens asks the user to sign in again."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from mailfiler.accounts.signin import MAX_FAILURES_PER_USER
from mailfiler.api.app import create_app
from mailfiler.service import Service
from mailfiler.storage.secrets import KEY_VARIABLE
from mailfiler.storage.tables import SignInThrottle
from tests.api.test_imis_org import headers, sign_in
from tests.conftest import Org
from tests.imis_site import SECRET_KEY, Site, new_imis_org, set_site

NEW = "the-new-key-of-the-installation"
NOT_SET_UP = "Mailfiler is not fully set up for your organisation: ask your administrator"


@pytest.fixture
def org(service: Service, site: Site) -> Org:
    return new_imis_org(service, site)


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with service.unit() as session:  # every test client signs in from one address
        session.execute(delete(SignInThrottle))
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


# Each fault on the server's side: how to cause it and mend it, what the user is told, and
# what the log tells the administrator.
Faults = dict[str, tuple[Callable[[pytest.MonkeyPatch, Org], None], str, str]]
FAULTS: Faults = {
    "no key": (lambda mp, org: mp.delenv(KEY_VARIABLE), NOT_SET_UP, f"{KEY_VARIABLE} is not set"),
    "a wrong key": (
        lambda mp, org: mp.setenv(KEY_VARIABLE, NEW),
        NOT_SET_UP,
        "background password cannot be decrypted with any key",
    ),
    "iMIS unreachable": (
        lambda mp, org: set_site(org, "http://127.0.0.1:9"),  # nothing listens there
        "cannot reach",
        "cannot reach",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_the_servers_side_is_never_counted_against_the_user(
    client: TestClient,
    org: Org,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    cause, told, logged = FAULTS[fault]
    cause(monkeypatch, org)
    answers = [sign_in(client, org) for _ in range(MAX_FAILURES_PER_USER + 1)]
    assert [a.status_code for a in answers] == [503] * (MAX_FAILURES_PER_USER + 1)
    assert told in answers[-1].json()["detail"]
    assert "password is not right" not in answers[-1].text
    assert logged in caplog.text  # for the administrator
    if fault != "iMIS unreachable":  # found before the user's password left for iMIS
        assert "jdoe" not in site.standin.token_requests
    monkeypatch.setenv(KEY_VARIABLE, SECRET_KEY)
    set_site(org, site.url)
    assert sign_in(client, org).status_code == 201  # at once: nothing was counted


def test_a_wrong_password_with_no_key_is_not_counted_either_and_never_sent(
    client: TestClient, org: Org, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    assert sign_in(client, org, "jdoe", "a-guess").status_code == 503
    assert site.standin.token_requests == []
    monkeypatch.setenv(KEY_VARIABLE, SECRET_KEY)
    codes = [sign_in(client, org, "jdoe", "a-guess").status_code for _ in range(6)]
    assert codes == [401] * MAX_FAILURES_PER_USER + [429]  # counted once iMIS is asked


def test_several_keys_the_first_seals_the_sign_in(
    client: TestClient, org: Org, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The background password was stored under the old key; the new one comes first.
    monkeypatch.setenv(KEY_VARIABLE, f"{NEW}, {SECRET_KEY}")
    auth = headers(client, org)
    monkeypatch.setenv(KEY_VARIABLE, NEW)  # the user's token was sealed with the first key
    found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert found.status_code == 200, found.text
    assert site.standin.searches == [("jdoe", "archer")]


def test_a_sealed_token_no_key_opens_asks_the_user_to_sign_in_again(
    client: TestClient,
    org: Org,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = headers(client, org)
    monkeypatch.setenv(KEY_VARIABLE, NEW)  # the key changed without a rotation
    ended = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert ended.status_code == 401, ended.text
    assert ended.json()["detail"] == "Your sign-in has ended: sign in again"
    assert "background" not in ended.text
    assert "sign in again" in caplog.text and SECRET_KEY not in caplog.text
    monkeypatch.delenv(KEY_VARIABLE)  # no key at all: the server's fault, not the sign-in's
    unset = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert unset.status_code == 503 and unset.json()["detail"] == NOT_SET_UP
    assert site.standin.searches == []
