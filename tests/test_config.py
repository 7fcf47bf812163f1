from __future__ import annotations

from pathlib import Path

from mailfiler.config import get_settings


def test_the_database_and_blob_folder_come_from_options_then_environment() -> None:
    assert get_settings(environ={}).database_url == "sqlite:///mailfiler.db"
    assert get_settings(environ={}).blobs_dir == Path("mailfiler-blobs")
    env = {"MAILFILER_DB": "postgresql://u@h/db", "MAILFILER_BLOBS": "/srv/blobs"}
    settings = get_settings(environ=env)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.blobs_dir == Path("/srv/blobs")
    assert get_settings("data/crm.db", environ=env).database_url == "sqlite:///data/crm.db"
    assert get_settings("data/crm.db", environ={}).blobs_dir == Path("data/crm-blobs")
