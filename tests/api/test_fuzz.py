"""Requests generated from the API's own OpenAPI description: none is answered with a fault.

Schemathesis builds requests for every operation from its schemas, the
valid and the nearly valid, and sends them to the real app. A 5xx is a bug:
bad input gets a 4xx problem naming what is wrong. Signing in and out are
left out (their own tests cover them; a fuzzed sign-out would end the token
and a fuzzed wrong password would throttle the test client's address).
The same requests are sent each run; ``MAILFILER_FUZZ=500`` explores anew.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from tests.api.conftest import Api

# MAILFILER_FUZZ=500: that many new random requests per operation, not the usual 25.
WIDER = int(os.environ.get("MAILFILER_FUZZ") or 0)


def test_no_generated_request_is_answered_with_a_fault(api: Api) -> None:
    described = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    headers = api.sign_in("admin")
    operations = [
        result.ok() for result in described.exclude(path="/api/v1/session").get_all_operations()
    ]
    assert len(operations) >= 13  # every operation but those of the session

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=WIDER or 25,
            derandomize=not WIDER,  # the same requests each run, unless asked to go wider
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def answered_without_a_fault(case: Case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.as_curl_command(), response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == ["application/problem+json"]
                assert response.json()["detail"]

        answered_without_a_fault()
