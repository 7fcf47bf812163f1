"""The HTTP API in-process (the real app over ASGI), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from mailfiler.api.app import create_app
from mailfiler.service import Service
from mailfiler.storage.tables import SignInThrottle
from tests.conftest import Org, fixture_bytes, new_org

PASSWORDS = {"jdoe": "jdoe-password", "admin": "admin-pass"}


@dataclass
class Api:
    client: TestClient
    org: Org

    def sign_in(self, username: str = "jdoe", password: str | None = None) -> dict[str, str]:
        answer = self.client.post(
            "/api/v1/session",
            json={
                "cloud_id": self.org.cloud_id,
                "username": username,
                "password": password or PASSWORDS[username],
            },
        )
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def read(self, name: str, headers: dict[str, str]) -> dict[str, Any]:
        answer = self.client.post(
            "/api/v1/messages",
            content=fixture_bytes(name),
            headers={**headers, "Content-Type": "message/rfc822"},
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, service: Service) -> Api:
    # Every test client comes from one address: failed sign-ins of earlier
    # tests must not throttle this one (the throttle tests fill it themselves).
    with service.unit() as session:
        session.execute(delete(SignInThrottle))
    return Api(client, new_org(service))
