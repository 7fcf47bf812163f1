"""Sign-ins at once, over a real server: the throttle's count is exact and hashing is bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from mailfiler import accounts
from mailfiler.api.app import create_app
from tests.api.conftest import Api
from tests.conftest import serving


@pytest.fixture
def url(api: Api) -> Iterator[str]:
    with serving(create_app(api.org.service.settings, api.org.service)) as base:
        yield base


class Counted:
    """Wraps the password check: how many ran, and how many ran at the same moment."""

    def __init__(self, real: Any, pause: float = 0.0) -> None:
        self.real, self.pause = real, pause
        self.calls = self.running = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.pause)
            return self.real(*args)
        finally:
            with self.lock:
                self.running -= 1


def _at_once(url: str, bodies: list[dict[str, str]]) -> list[int]:
    with ThreadPoolExecutor(len(bodies)) as pool, httpx2.Client(timeout=60) as client:
        answers = pool.map(lambda b: client.post(f"{url}/api/v1/session", json=b), bodies)
        return [a.status_code for a in answers]


def test_32_wrong_passwords_at_once_are_checked_exactly_5_times(
    api: Api, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Counted(accounts.check_password, pause=0.02)
    monkeypatch.setattr(accounts, "check_password", checks)
    wrong = {"cloud_id": api.org.cloud_id, "username": "jdoe", "password": "guess"}
    codes = _at_once(url, [wrong] * 32)
    assert checks.calls == 5
    assert sorted(codes) == [401] * 5 + [429] * 27
    right = httpx2.post(f"{url}/api/v1/session", json={**wrong, "password": "jdoe-password"})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0


def test_password_checks_run_one_at_a_time_and_colleagues_are_not_throttled(
    api: Api, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Counted(accounts.check_password, pause=0.05)
    monkeypatch.setattr(accounts, "check_password", checks)
    with api.org.service.unit() as session:
        tenant = accounts.tenant(session, api.org.cloud_id)
        for number in range(25):
            accounts.add_user(session, tenant, f"staff{number}", "", ["Staff"], "a-password")
    bodies = [
        {"cloud_id": api.org.cloud_id, "username": f"staff{n}", "password": "a-password"}
        for n in range(25)
    ]
    codes = _at_once(url, bodies)
    # 25 colleagues behind one address (more than its limit of failures): none throttled.
    assert codes == [201] * 25
    assert checks.calls == 25 and checks.most == accounts.PASSWORD_CHECKS_AT_ONCE


def test_a_busy_server_asks_to_come_back_and_counts_nothing(
    api: Api, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "PASSWORD_CHECK_WAIT", 0.01)
    gate = threading.Event()
    real = accounts.check_password

    def stuck(*args: Any) -> bool:
        gate.wait(20)
        return real(*args)

    monkeypatch.setattr(accounts, "check_password", stuck)
    right = {"cloud_id": api.org.cloud_id, "username": "jdoe", "password": "jdoe-password"}
    with ThreadPoolExecutor(4) as pool, httpx2.Client(timeout=60) as client:
        first = [pool.submit(client.post, f"{url}/api/v1/session", json=right)]
        time.sleep(0.3)  # the one check at a time is under way
        busy = client.post(f"{url}/api/v1/session", json=right)
        gate.set()
        assert [f.result().status_code for f in first] == [201]
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
    assert "busy" in busy.json()["detail"]
    # The refused attempt counted nowhere: five wrong passwords are still five checks.
    wrong = {**right, "password": "guess"}
    assert [httpx2.post(f"{url}/api/v1/session", json=wrong).status_code for _ in range(6)] == [
        *[401] * 5,
        429,
    ]
