"""The pages are type-checked against src/mailfiler/web/types/api.d.ts (make test runs tsc):
that file must say what the API answers today, or a change to api/schemas.py that the
pages do not follow would pass unseen."""

from __future__ import annotations

import os

import pytest

from tools import api_types


def test_the_pages_types_are_those_of_the_api_today() -> None:
    if not api_types.GENERATOR.exists():
        if os.environ.get("CI"):
            pytest.fail("node_modules is missing: make test installs it (npm ci) before pytest")
        pytest.skip("node_modules is not installed here (make web installs it)")
    assert api_types.TYPES.read_text() == api_types.declarations(), (
        "src/mailfiler/web/types/api.d.ts is stale: run make api-types"
    )
