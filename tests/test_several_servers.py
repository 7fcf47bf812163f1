"""Several servers on one PostgreSQL database share nothing else: file contents and messages
waiting between review and save live in the database, and a folder of contents kept before
moves there with one command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from mailfiler import cli
from mailfiler.config import Settings
from mailfiler.connectors.base import StoredFile
from mailfiler.service import Context, Service
from tests.conftest import FIXTURES, free_port, new_postgresql_database

runner = CliRunner()


def _mailfiler(url: str, blobs: Path, files_in: str, *args: str, stdin: str = "") -> Any:
    env = {"COLUMNS": "250", "MAILFILER_FILES_IN": files_in}
    return runner.invoke(cli.app, ["--db", url, "--blobs", str(blobs), *args], input=stdin, env=env)


@pytest.fixture
def postgresql_of_its_own() -> Iterator[str]:
    """A database no other test has filed the same contents into."""
    with new_postgresql_database() as url:
        yield url


def test_contents_kept_in_a_folder_move_into_the_database_with_one_command(
    postgresql_of_its_own: str, tmp_path: Path
) -> None:
    postgresql_url = postgresql_of_its_own
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


MAILFILER = Path(sys.executable).parent / "mailfiler"


@contextmanager
def _server(database: str, folder: Path) -> Iterator[str]:
    """``mailfiler serve`` started in ``folder`` (its working folder) on ``database``, with
    nothing else set: where files go is the installation's default."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFILER_")}
    server = subprocess.Popen(
        [MAILFILER, "--db", database, "serve", "--port", str(port)],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx2.get(f"{base}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                assert server.poll() is None, server.communicate()[0]
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.communicate(timeout=20)


def _sign_in(base: str, cloud_id: str) -> dict[str, str]:
    answer = httpx2.post(
        f"{base}/api/v1/session",
        json={"cloud_id": cloud_id, "username": "jdoe", "password": "correct horse battery"},
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_two_servers_in_different_folders_share_one_postgresql_database(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()
    cloud_id = "TWO"
    with new_postgresql_database() as database:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFILER_")}

        def mailfiler(*args: str, stdin: str = "") -> None:
            subprocess.run(
                [MAILFILER, "--db", database, *args], cwd=one, env=env, input=stdin, text=True,
                check=True, capture_output=True,
            )  # fmt: skip

        mailfiler("init", "--cloud-id", cloud_id, "--name", "Two", "--background-account", "M")
        mailfiler("users", "add", "jdoe", "--cloud-id", cloud_id, "--roles", "Staff",
                  "--password-stdin", stdin="correct horse battery\n")  # fmt: skip
        mailfiler("contacts", "import", str(FIXTURES / "contacts.csv"), "--cloud-id", cloud_id)
        with _server(database, one) as first, _server(database, other) as second:
            signed_in_once = _sign_in(first, cloud_id)
            assert httpx2.get(f"{second}/api/v1/session", headers=signed_in_once).is_success
            raw = {**_sign_in(second, cloud_id), "Content-Type": "message/rfc822"}
            read = httpx2.post(
                f"{first}/api/v1/messages",
                content=(FIXTURES / "encoded-words.eml").read_bytes(),
                headers=raw,
            )
            assert read.status_code == 201, read.text
            ref = read.json()["message_ref"]
            saved = httpx2.post(
                f"{second}/api/v1/messages/{ref}/interactions", json={}, headers=signed_in_once
            )
            assert saved.status_code == 200, saved.text
            assert {r["status"] for r in saved.json()["results"]} == {"saved"}
            page = httpx2.get(f"{first}/api/v1/contacts/101", headers=signed_in_once).json()
            files = [f for item in page["timeline"]["items"] for f in item["attachments"]]
            assert files
            for file in files:
                for base in (first, second):
                    got = httpx2.get(f"{base}/api/v1/attachments/{file['id']}", headers=raw)
                    assert got.status_code == 200, got.text
                    assert len(got.content) == file["size"]
    # Nothing was written where either server ran.
    assert list(one.iterdir()) == [] and list(other.iterdir()) == []


def test_a_server_keeping_files_in_a_folder_of_a_shared_database_warns_when_it_starts(
    postgresql_url: str, tmp_path: Path
) -> None:
    in_a_folder = Service(Settings(postgresql_url, tmp_path / "here", files_in="folder"))
    in_the_database = Service(Settings(postgresql_url, tmp_path / "here"))
    try:
        in_the_database.migrate()
        [warning] = [w for w in in_a_folder.set_up_warnings() if "MAILFILER_FILES_IN" in w]
        assert str((tmp_path / "here").resolve()) in warning
        assert not [w for w in in_the_database.set_up_warnings() if "MAILFILER_FILES_IN" in w]
    finally:
        in_a_folder.close()
        in_the_database.close()


def test_two_machines_split_one_archive_and_file_each_message_once(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for number, fixture in enumerate(sorted(FIXTURES.glob("*.eml")) * 3):
        # Each message three times under its own Message-ID: more than either run holds.
        text = fixture.read_bytes().replace(b"Message-ID: <", f"Message-ID: <{number}.".encode())
        (archive / f"{number:03}.eml").write_bytes(text)
    machines = [tmp_path / "one", tmp_path / "two", tmp_path / "three"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFILER_")}
    with new_postgresql_database() as database:

        def mailfiler(where: Path, *args: str, stdin: str = "") -> subprocess.Popen[str]:
            where.mkdir(exist_ok=True)
            return subprocess.Popen(
                [MAILFILER, "--db", database, *args], cwd=where, env=env, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip

        def done(run: subprocess.Popen[str], stdin: str = "") -> str:
            out, err = run.communicate(stdin, timeout=300)
            assert run.returncode in (0, 1), err  # 1: a message of the archive is unreadable
            return out

        done(mailfiler(machines[0], "init", "--cloud-id", "ARC", "--name", "Archive"))
        done(mailfiler(machines[0], "users", "add", "jdoe", "--cloud-id", "ARC",
                       "--password-stdin"), "correct horse battery\n")  # fmt: skip
        done(mailfiler(machines[0], "contacts", "import", str(FIXTURES / "contacts.csv"),
                       "--cloud-id", "ARC"))  # fmt: skip
        filing = ["file", str(archive), "--cloud-id", "ARC", "--user", "jdoe", "--json"]
        runs = [mailfiler(machine, *filing) for machine in machines[:2]]  # at once
        reports = [json.loads(line) for run in runs for line in done(run).splitlines()]
        # A contact on two lines of a message is one record, said on both lines.
        saved = {
            (r["contact_ids"][0], report["message_id"], r["record_id"])
            for report in reports
            for r in report["results"]
            if r["status"] == "saved"
        }
        assert saved and len(saved) == len({(c, m) for c, m, _ in saved})  # none by both
        again = [json.loads(line) for line in done(mailfiler(machines[2], *filing)).splitlines()]
        assert not [r for report in again for r in report["results"] if r["status"] == "saved"]
        listed = json.loads(done(mailfiler(machines[2], "records", "--cloud-id", "ARC", "--json")))
        assert {r["id"] for r in listed} == {record for _, _, record in saved}  # no orphan
    assert all(not any(machine.iterdir()) for machine in machines)
