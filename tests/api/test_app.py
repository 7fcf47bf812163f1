"""OpenAPI, problem details for every failure, and the real server started by `mailfiler serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from mailfiler.api.app import create_app
from mailfiler.service import Service
from tests.api.conftest import Api
from tests.conftest import FIXTURES, free_port


def test_openapi_lists_every_route_with_its_schemas(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
    schemas = spec["components"]["schemas"]
    for name in (
        "SessionCreate",
        "SessionPublic",
        "MessagePublic",
        "ComposedMessage",
        "SaveRequest",
        "SaveResponse",
        "OptionsPublic",
        "OptionsUpdate",
        "ContactDetail",
        "UserCreate",
    ):
        assert name in schemas
    post = spec["paths"]["/api/v1/messages"]["post"]["requestBody"]["content"]
    assert set(post) >= {"message/rfc822", "multipart/form-data", "application/json"}
    # Every route but signing in says it needs the bearer token.
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            signing_in = (method, path) == ("post", "/api/v1/session")
            assert ("security" not in operation) == signing_in, (method, path)
    # Every error answer is described, as the problem details it is.
    assert "HTTPValidationError" not in schemas and schemas["Problem"]["required"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
            for response in errors.values():
                assert response["description"]
                problem = response["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, (method, path)
            assert {"500", "503"} <= set(errors) and "401" in errors, (method, path)
            assert ("404" in errors) == ("{" in path), (method, path)
    assert "413" in spec["paths"]["/api/v1/messages"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/v1/session"]["post"]["responses"]
    assert "409" in spec["paths"]["/api/v1/contacts"]["post"]["responses"]
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text


def test_unexpected_failures_are_problem_details_without_a_traceback(service: Service) -> None:
    app = create_app(service.settings, service)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in answer.text and "Traceback" not in answer.text
    with TestClient(app) as client:
        missing = client.get("/api/v1/nowhere")
        assert missing.status_code == 404 and missing.json()["status"] == 404
        invalid = client.post("/api/v1/session", json={"cloud_id": "x"})
        assert (
            invalid.status_code == 422 and invalid.json()["errors"][0]["where"] == "body.username"
        )


def test_mailfiler_serve_starts_the_real_server(tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'served.db'}"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "MAILFILER_DB": db, "MAILFILER_BLOBS": str(tmp_path / "blobs")}
    subprocess.run(
        [bin_dir / "mailfiler", "init", "--cloud-id", "SRV", "--name", "Served"],
        env=env,
        check=True,
    )
    subprocess.run(
        [bin_dir / "mailfiler", "users", "add", "ann", "--cloud-id", "SRV", "--password-stdin"],
        input="served password\n",
        text=True,
        env=env,
        check=True,
    )
    server = subprocess.Popen(
        [bin_dir / "mailfiler", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx2.get(f"{base}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        signed = httpx2.post(
            f"{base}/api/v1/session",
            json={"cloud_id": "SRV", "username": "ann", "password": "served password"},
        )
        assert signed.status_code == 201
        read = httpx2.post(
            f"{base}/api/v1/messages",
            content=(FIXTURES / "text-only.eml").read_bytes(),
            headers={
                "Authorization": f"Bearer {signed.json()['token']}",
                "Content-Type": "message/rfc822",
            },
        )
        assert read.status_code == 201 and read.json()["subject"].startswith("Plain text")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "served password" not in output


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc"])
def test_requests_without_a_usable_token_are_401(api: Api, header: str) -> None:
    answer = api.client.get("/api/v1/options", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.json()["code"] == "not-signed-in"


@pytest.mark.parametrize("odd", ["³", "%C3%90", "9" * 30, "-1", "1.5", "%F2%95%BB%A3"])
def test_an_id_or_reference_that_names_nothing_is_404_never_a_fault(api: Api, odd: str) -> None:
    headers = api.sign_in("admin")
    for method, path in (
        ("GET", f"/api/v1/attachments/{odd}"),
        ("GET", f"/api/v1/contacts/{odd}"),
        ("GET", f"/api/v1/messages/{odd}"),
        ("POST", f"/api/v1/messages/{odd}/interactions"),
        ("POST", f"/api/v1/messages/{odd}/activities"),
        ("PATCH", f"/api/v1/users/{odd}"),
    ):
        answer = api.client.request(method, path, headers=headers, json={})
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["detail"]


def test_a_timeline_page_beyond_any_number_is_refused_not_a_fault(api: Api) -> None:
    answer = api.client.get(
        "/api/v1/contacts/101", params={"offset": 10**20}, headers=api.sign_in()
    )
    assert answer.status_code == 422


def test_a_method_a_route_does_not_take_is_405_saying_which_it_takes(api: Api) -> None:
    answer = api.client.request("TRACE", "/api/v1/contacts", headers=api.sign_in())
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_a_nul_character_anywhere_in_a_request_is_refused_with_the_reason(api: Api) -> None:
    headers = api.sign_in("admin")
    options = api.client.get("/api/v1/options", headers=headers).json()
    for method, path, body in (
        ("GET", "/api/v1/contacts?q=ann%00", None),
        ("GET", "/api/v1/contacts/101%00", None),
        ("PATCH", "/api/v1/users/jdoe%00", {"disabled": True}),
        ("POST", "/api/v1/contacts", {"full_name": "A\x00B", "emails": ["ab@x.example"]}),
        ("PUT", "/api/v1/options", {**options, "can_change": None, "profile_url": "\x00{id}"}),
        ("POST", "/api/v1/users", {"username": "nul\x00", "email": "", "password": "p" * 12}),
    ):
        answer = api.client.request(method, path, headers=headers, json=body)
        assert answer.status_code in (400, 422), (method, path, answer.text)
        assert "NUL" in answer.json()["detail"], (method, path)
    assert api.client.get("/api/v1/contacts/101", headers=headers).status_code == 200
