"""The two settings of issue 14: local CRM addresses (tests only) and a bulk run's patience."""

from __future__ import annotations

import pytest

from mailfiler.config import DEFAULT_CRM_PATIENCE, get_settings
from mailfiler.errors import BadRequest


def test_local_crm_addresses_are_off_unless_the_environment_allows_them() -> None:
    assert get_settings(environ={}).allow_local_crm is False
    assert get_settings(environ={"MAILFILER_ALLOW_LOCAL_CRM": "0"}).allow_local_crm is False
    assert get_settings(environ={"MAILFILER_ALLOW_LOCAL_CRM": "1"}).allow_local_crm is True


def test_a_bulk_runs_patience_is_a_number_of_seconds() -> None:
    assert get_settings(environ={}).crm_patience == DEFAULT_CRM_PATIENCE
    assert get_settings(environ={"MAILFILER_CRM_PATIENCE": "42"}).crm_patience == 42.0
    for wrong in ("-1", "inf", "nan", "abc"):
        with pytest.raises(BadRequest, match="MAILFILER_CRM_PATIENCE"):
            get_settings(environ={"MAILFILER_CRM_PATIENCE": wrong})


def test_numbers_of_the_environment_are_checked_where_they_are_read() -> None:
    for name in ("MAILFILER_UPLOAD_QUOTA_BYTES", "MAILFILER_MAX_MESSAGE_BYTES"):
        for wrong in ("-5", "0", "lots"):
            with pytest.raises(BadRequest, match=name):
                get_settings(environ={name: wrong})
    assert get_settings(environ={"MAILFILER_UPLOAD_QUOTA_BYTES": "1000"}).upload_quota_bytes == 1000
