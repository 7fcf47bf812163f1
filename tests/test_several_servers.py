"""Several servers on one PostgreSQL database share nothing else: file contents and messages
waiting between review and save live in the database, and a folder of contents kept before
moves there with one command."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailfiler import cli
from mailfiler.config import Settings
from mailfiler.connectors.base import StoredFile
from mailfiler.service import Context, Service
from tests.conftest import FIXTURES

runner = CliRunner()


def _mailfiler(url: str, blobs: Path, files_in: str, *args: str, stdin: str = "") -> Any:
    env = {"COLUMNS": "250", "MAILFILER_FILES_IN": files_in}
    return runner.invoke(cli.app, ["--db", url, "--blobs", str(blobs), *args], input=stdin, env=env)


def test_contents_kept_in_a_folder_move_into_the_database_with_one_command(
    postgresql_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "blobs-of-the-old-server"
    cloud_id = "C" + uuid.uuid4().hex[:8].upper()

    def before(*args: str, stdin: str = "") -> Any:
        done = _mailfiler(postgresql_url, folder, "folder", *args, stdin=stdin)
        assert done.exit_code == 0, done.output
        return done

    before("init", "--cloud-id", cloud_id, "--name", "Acme", "--background-account", "MANAGER")
    before("users", "add", "jdoe", "--cloud-id", cloud_id, "--email", "jdoe@acme.example",
           "--roles", "Staff", "--password-stdin", stdin="correct horse battery\n")  # fmt: skip
    before("contacts", "import", str(FIXTURES / "contacts.csv"), "--cloud-id", cloud_id)
    before("file", str(FIXTURES / "encoded-words.eml"), "--cloud-id", cloud_id, "--user", "jdoe")
    kept = [p for p in folder.rglob("*") if p.is_file()]
    assert kept, "filed with its contents in the folder"

    moved = _mailfiler(postgresql_url, folder, "database", "move-files")
    assert moved.exit_code == 0, moved.output
    assert f"Moved {len(kept)} files" in moved.output and "into the database" in moved.output
    assert not [p for p in folder.rglob("*") if p.is_file()]
    again = _mailfiler(postgresql_url, folder, "database", "move-files")
    assert "Moved 0 files" in again.output

    # A server elsewhere, with a folder of its own, downloads every file.
    elsewhere = Service(Settings(postgresql_url, tmp_path / "another-machine"))
    try:
        records = elsewhere.run(cloud_id, None, elsewhere.filed_records)
        files = [f for r in records for f in r.attachments]
        assert files
        for file in files:
            download = partial(_attachment, file.id)
            stored, data = elsewhere.run(cloud_id, None, download)
            assert len(data) == stored.size
    finally:
        elsewhere.close()


def _attachment(attachment_id: str, context: Context) -> tuple[StoredFile, bytes]:
    return context.records.attachment(attachment_id)


def test_moving_files_is_refused_where_they_stay_in_a_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    done = _mailfiler(url, tmp_path / "blobs", "", "init", "--cloud-id", "ACME", "--name", "A")
    assert done.exit_code == 0, done.output
    refused = _mailfiler(url, tmp_path / "blobs", "", "move-files")
    assert refused.exit_code != 0
    assert "keeps files in a folder" in refused.output
