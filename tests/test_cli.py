"""The command line on both databases: the JSON contracts, exit codes, folders, mbox, maildir."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mailfiler import cli
from mailfiler.cli import common, filing
from tests.conftest import FIXTURES, corpus_path

runner = CliRunner()


class Cli:
    """mailfiler commands against one database and one fresh organisation."""

    def __init__(self, url: str, blobs: Path) -> None:
        self.base = ["--db", url, "--blobs", str(blobs)]
        self.cloud_id = "C" + uuid.uuid4().hex[:8].upper()

    def __call__(self, *args: str, stdin: str | None = None) -> Any:
        return runner.invoke(cli.app, [*self.base, *args], input=stdin, env={"COLUMNS": "250"})

    def setup(self) -> None:
        assert self("init", "--cloud-id", self.cloud_id, "--name", "Acme Association",
                    "--background-account", "MANAGER").exit_code == 0  # fmt: skip
        added = self("users", "add", "jdoe", "--cloud-id", self.cloud_id, "--email",
                     "jdoe@acme.example", "--roles", "Staff,SysAdmin", "--password-stdin",
                     stdin="correct horse battery\n")  # fmt: skip
        assert added.exit_code == 0, added.output
        imported = self(
            "contacts", "import", str(FIXTURES / "contacts.csv"), "--cloud-id", self.cloud_id
        )
        assert imported.exit_code == 0, imported.output
        assert "17 added" in imported.output

    def file(self, *args: str) -> tuple[int, list[dict[str, Any]]]:
        result = self("file", *args, "--cloud-id", self.cloud_id, "--user", "jdoe", "--json")
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return result.exit_code, lines

    def records(self, *args: str) -> list[dict[str, Any]]:
        result = self("records", "--cloud-id", self.cloud_id, "--json", *args)
        assert result.exit_code == 0, result.output
        records: list[dict[str, Any]] = json.loads(result.stdout)
        return records


@pytest.fixture
def mf(database_url: str, tmp_path: Path) -> Cli:
    tool = Cli(database_url, tmp_path / "blobs")
    tool.setup()
    return tool


def test_file_json_follows_the_contract(mf: Cli) -> None:
    code, [report] = mf.file(str(FIXTURES / "long-lines.eml"))
    assert code == 0
    assert set(report) >= {"source", "message_id", "subject", "error", "results", "attachments"}
    assert report["message_id"] == "<long-lines-1@members.example>"
    assert report["error"] is None
    first = report["results"][0]
    assert set(first) >= {
        "role",
        "address",
        "name",
        "self",
        "status",
        "contact_ids",
        "record_id",
        "reason",
    }
    assert (first["role"], first["status"], first["contact_ids"]) == ("from", "saved", ["101"])
    files = {f["name"]: f for f in report["attachments"]}
    assert files["empty-notes.txt"]["status"] == "empty"
    assert files["empty-notes.txt"]["saved_as"] is None
    long_name = "Board-meeting-papers-for-the-November-2026-session-final-version.pdf"
    assert files[long_name]["saved_as"] == "Board-meeting-papers-for-the-November-2026-ses.pdf"
    assert set(files[long_name]) >= {"name", "saved_as", "size", "status", "reason"}


def test_records_json_follows_the_contract(mf: Cli) -> None:
    mf.file(str(FIXTURES / "inline-image.eml"), "--as", "activity")
    [record] = mf.records("--contact", "101")
    assert set(record) >= {
        "kind", "id", "contact_id", "subject", "to_line", "body", "activity_type", "fields",
        "created_by", "saved_by", "message_id", "saved_at", "attachments",
    }  # fmt: skip
    assert record["kind"] == "activity" and record["activity_type"] == "EMAIL"
    assert record["fields"]["DESCRIPTION"] == "Newsletter draft"
    assert (record["created_by"], record["saved_by"]) == ("MANAGER", "jdoe")
    [logo] = record["attachments"]
    assert set(logo) >= {"filename", "size", "sha256", "content_type"}
    assert mf.records("--contact", "999") == []


def test_choices_on_the_command_line(mf: Cli) -> None:
    code, [report] = mf.file(
        str(FIXTURES / "ambiguous.eml"), "--pick", "SHARED@family.example=104", "--only", "from"
    )
    assert code == 0
    assert [r["status"] for r in report["results"]] == ["saved", "excluded", "excluded"]
    code, [eml] = mf.file(str(FIXTURES / "long-lines.eml"), "--eml", "--as", "interaction")
    assert {a["status"] for a in eml["attachments"]} == {"in_eml"}
    stored = [r for r in mf.records("--contact", "102") if r["subject"] == "Board papers"]
    assert [a["filename"] for a in stored[0]["attachments"]] == ["Board papers.eml"]
    code, [skip] = mf.file(
        str(FIXTURES / "encoded-words.eml"), "--skip-attachment", "notes été.txt"
    )
    assert [a["status"] for a in skip["attachments"]] == ["saved", "excluded"]
    mf.file(
        str(FIXTURES / "text-only.eml"), "--as", "activity", "--field", "DESCRIPTION=Typed by me"
    )
    [record] = [r for r in mf.records("--contact", "109") if r["kind"] == "activity"]
    assert record["fields"]["DESCRIPTION"] == "Typed by me"


def test_a_folder_with_an_mbox_a_maildir_an_outlook_file_and_a_broken_file(
    mf: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (folder / "Maildir" / sub).mkdir(parents=True)
    shutil.copy(FIXTURES / "text-only.eml", folder / "Maildir" / "cur" / "1700000000.M1P1.host:2,S")
    shutil.copy(FIXTURES / "forwarded.eml", folder / "Maildir" / "new" / "1700000001.M2P2.host")
    shutil.copy(FIXTURES / "ambiguous.eml", folder / "Maildir" / "tmp" / "being-delivered")
    shutil.copy(corpus_path() / "james-mime4j" / "mbox" / "mbox.rlug", folder / "list.mbox")
    shutil.copy(corpus_path() / "apache-poi" / "hsmf" / "quick.msg", folder / "quick.msg")
    (folder / "broken.eml").write_bytes(b"Subject: broken\nContent-Type: multipart/mixed\n\n")
    (folder / "README.txt").write_text("Not an email, just notes about this folder.\n")
    (folder / "damaged.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    code, reports = mf.file(str(folder))
    assert code == 1  # the damaged Outlook file could not be read; the rest was filed
    sources = [Path(r["source"]).name for r in reports]
    # A folder's own files first, then its sub-folders; maildir's tmp/ is never read.
    assert sources == [
        "broken.eml", "damaged.msg", "list.mbox#1", "list.mbox#2", "list.mbox#3", "list.mbox#4",
        "list.mbox#5", "quick.msg", "1700000000.M1P1.host:2,S", "1700000001.M2P2.host",
    ]  # fmt: skip
    errors = {Path(r["source"]).name: r["error"] for r in reports if r["error"]}
    assert list(errors) == ["damaged.msg"] and "Outlook" in errors["damaged.msg"]
    assert reports[7]["subject"] == "Test the content transformer"
    assert {r["status"] for r in reports[8]["results"]} >= {"saved"}


def test_exit_codes(mf: Cli, tmp_path: Path) -> None:
    assert (
        mf(
            "file", str(tmp_path / "nope.eml"), "--cloud-id", mf.cloud_id, "--user", "jdoe"
        ).exit_code
        == 2
    )
    assert (
        mf(
            "file", str(FIXTURES / "text-only.eml"), "--cloud-id", "NOSUCH", "--user", "jdoe"
        ).exit_code
        == 2
    )
    assert (
        mf(
            "file", str(FIXTURES / "text-only.eml"), "--cloud-id", mf.cloud_id, "--user", "ghost"
        ).exit_code
        == 2
    )
    bad_kind = mf(
        "file",
        str(FIXTURES / "text-only.eml"),
        "--cloud-id",
        mf.cloud_id,
        "--user",
        "jdoe",
        "--as",
        "memo",
    )
    assert bad_kind.exit_code == 2 and "interaction or activity" in bad_kind.output
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"%PDF-1.4 not mail")
    code, reports = mf.file(str(FIXTURES / "text-only.eml"), str(junk))
    assert code == 1
    assert reports[0]["error"] is None and "not an email message" in reports[1]["error"]
    code, [unmatched] = mf.file(str(FIXTURES / "ambiguous.eml"), "--only", "cc")
    assert code == 0 and unmatched["results"][2]["status"] == "no_contact"


def test_inspect_writes_nothing_and_explains(mf: Cli) -> None:
    result = mf(
        "inspect",
        str(FIXTURES / "ambiguous.eml"),
        "--cloud-id",
        mf.cloud_id,
        "--user",
        "jdoe",
        "--json",
    )
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [r["status"] for r in report["results"]] == ["ambiguous", "would_save", "no_contact"]
    assert "merge these contacts" in report["results"][0]["reason"]
    assert mf.records() == []
    human = mf(
        "inspect", str(FIXTURES / "ambiguous.eml"), "--cloud-id", mf.cloud_id, "--user", "jdoe"
    )
    flat = re.sub(r"[\s│┃]+", "", human.output)  # the table wraps to the terminal's width
    assert "ambiguous" in flat
    assert "DanEvans(104),ErinEvans(105);mergethesecontacts" in flat


def test_the_professional_edition_refuses_activities(database_url: str, tmp_path: Path) -> None:
    tool = Cli(database_url, tmp_path)
    tool("init", "--cloud-id", tool.cloud_id, "--name", "Small", "--edition", "professional")
    tool("users", "add", "jdoe", "--cloud-id", tool.cloud_id)
    tool("contacts", "import", str(FIXTURES / "contacts.csv"), "--cloud-id", tool.cloud_id)
    code, [report] = tool.file(str(FIXTURES / "text-only.eml"), "--as", "activity")
    assert code == 0
    assert report["results"][0]["status"] == "not_permitted"
    assert "cannot save Activities" in report["results"][0]["reason"]


def test_contact_import_is_all_or_nothing(mf: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,full_name,emails,organization\n"
        "200,Good Row,good@x.example,\n201,,x@x.example,\n202,Bad Mail,not an address,\n"
    )
    result = mf("contacts", "import", str(bad), "--cloud-id", mf.cloud_id)
    assert result.exit_code == 1
    assert "line 3, column full_name: empty" in result.output
    assert "line 4, column emails: not an email address" in result.output
    search = mf("contacts", "search", "Good Row", "--cloud-id", mf.cloud_id, "--json")
    assert json.loads(search.stdout) == []  # not even the good row
    found = mf("contacts", "search", "archer", "--cloud-id", mf.cloud_id, "--json")
    assert [c["id"] for c in json.loads(found.stdout)] == ["101"]


def test_several_messages_end_with_a_summary_table(mf: Cli) -> None:
    result = mf("file", str(FIXTURES / "text-only.eml"), str(FIXTURES / "ambiguous.eml"),
                "--cloud-id", mf.cloud_id, "--user", "jdoe")  # fmt: skip
    assert result.exit_code == 0
    assert "2 message(s): 3 contact(s) saved, 0 already saved, 2 not saved" in result.output


def test_a_progress_bar_shows_on_a_terminal(mf: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(filing, "err", Console(file=screen, force_terminal=True, width=100))
    given = common.settings_given
    given.database, given.blobs = mf.base[1], mf.base[3]
    from mailfiler.core.plan import Choices

    paths = [str(FIXTURES / n) for n in ("text-only.eml", "ambiguous.eml", "forwarded.eml")]
    try:
        assert filing._process(paths, mf.cloud_id, "jdoe", Choices(), as_json=True, save=True) == 0
    finally:
        common.close_service()
    assert "filing" in screen.getvalue() and "3/3" in screen.getvalue()


def test_the_installed_command_documents_every_command() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mailfiler"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("init", "users", "contacts", "inspect", "file", "records"):
        assert command in result.stdout


def test_a_folder_of_hostile_mail_is_filed_to_the_end(mf: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    head = b"From: ann@members.example\r\nTo: bob@members.example\r\n"
    deep = b"(" * 5000 + b")" * 5000
    hostile = {
        # Each of these once ended the whole run with a traceback (issue 9).
        "1-nested-comments.eml": head.replace(b"\r\nTo:", b" " + deep + b"\r\nTo:"),
        "2-punycode.eml": head + b"Content-Type: text/plain; charset=punycode\r\n\r\n\xff\xfe\r\n",
        "3-undefined.eml": head + b"Subject: =?undefined?q?caf=C3=A9?=\r\n\r\nbody\r\n",
        "4-nul-charset.eml": head + b"Subject: =?utf-8\x00?q?caf=C3=A9?=\r\n\r\nbody\r\n",
        "5-second-from.eml": head + b"From: carla@example.org\r\nSubject: two\r\n\r\nbody\r\n",
    }  # fmt: skip
    for name, data in hostile.items():
        (folder / name).write_bytes(data if b"\r\n\r\n" in data else data + b"\r\nbody\r\n")
    shutil.copy(FIXTURES / "text-only.eml", folder / "6-plain.eml")
    code, reports = mf.file(str(folder))
    assert code == 0, reports
    assert [Path(r["source"]).name for r in reports] == [*hostile, "6-plain.eml"]
    assert all(r["error"] is None for r in reports)
    assert all("Traceback" not in json.dumps(r) for r in reports)
    assert {r["status"] for r in reports[-1]["results"]} >= {"saved"}
    # The second From line names no one: only ann's and bob's contacts were filed.
    second_from = reports[4]
    assert [r["address"] for r in second_from["results"]] == [
        "ann@members.example", "bob@members.example"
    ]  # fmt: skip
    assert any("2 From: lines; only the first was read" in n for n in second_from["notes"])


def test_only_init_makes_a_database_and_others_say_where_they_looked(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "mailfiler.db"
    missing.parent.mkdir()
    tool = Cli(f"sqlite:///{missing}", tmp_path / "blobs")
    listed = tool("users", "list", "--cloud-id", "DEMO")
    assert listed.exit_code == 2
    assert f"There is no mailfiler database at {missing}" in listed.output
    assert not missing.exists()  # nothing was made
    assert tool("init", "--cloud-id", "ACME", "--name", "Acme").exit_code == 0
    unknown = tool("users", "list", "--cloud-id", "DEMO")
    assert unknown.exit_code == 2
    assert f"No organisation has the Cloud ID DEMO in {missing}" in unknown.output


def test_the_command_line_starts_without_the_web_or_database_stack() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, mailfiler.cli; print(sorted(m for m in "
         "('sqlalchemy', 'fastapi', 'mailfiler.service', 'alembic', 'psycopg') "
         "if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "[]"


def test_a_port_in_use_is_said_before_anything_is_served(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tool = Cli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "blobs")
        result = runner.invoke(
            cli.app, [*tool.base, "demo", "--serve"], env={"COLUMNS": "250", "PORT": str(port)}
        )
    assert result.exit_code == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.output
    assert f"PORT={port + 1} make run" in result.output
    assert "mailfiler is at" not in result.output


def test_a_rerun_passes_over_what_was_filed_whole_without_reading_it(
    mf: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailfiler.service import reader_pool

    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("encoded-words.eml", "text-only.eml", "ambiguous.eml", "no-message-id.eml"):
        shutil.copy(FIXTURES / name, archive / name)
    code, first = mf.file(str(archive))
    assert code == 0 and not any(r["filed_before"] for r in first)

    reads: list[int] = []
    pool = reader_pool.shared()

    class Counted:
        def read(self, data: bytes) -> Any:
            reads.append(len(data))
            return pool.read(data)

    monkeypatch.setattr(reader_pool, "shared", lambda: Counted())
    result = mf("file", str(archive), "--cloud-id", mf.cloud_id, "--user", "jdoe", "--json")
    again = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    passed_over = {Path(r["source"]).name for r in again if r["filed_before"]}
    # Every record saved, a Message-ID: passed over unread. The one without a Message-ID
    # is known only by reading it.
    assert passed_over == {"encoded-words.eml", "text-only.eml", "ambiguous.eml"}
    assert len(reads) == 1
    assert "passed over 3 message(s) filed before" in result.stderr
    # Picking a contact for an address asks for something new: the message is read.
    picked = mf("file", str(archive / "ambiguous.eml"), "--cloud-id", mf.cloud_id, "--user",
                "jdoe", "--json", "--pick", "shared@family.example=104")  # fmt: skip
    [report] = [json.loads(line) for line in picked.stdout.splitlines() if line.startswith("{")]
    assert not report["filed_before"] and len(reads) == 2
    code, rechecked = mf.file(str(archive), "--recheck")
    assert not any(r["filed_before"] for r in rechecked)
    assert {r["status"] for r in rechecked if r["source"].endswith("text-only.eml")
            for r in r["results"]} <= {"duplicate", "no_contact", "excluded"}  # fmt: skip


def test_a_bulk_run_on_a_terminal_shows_messages_megabytes_rate_and_time_left(
    mf: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    names = ("encoded-words.eml", "text-only.eml", "inline-image.eml")
    for name in names:
        shutil.copy(FIXTURES / name, archive / name)
    total = sum((archive / name).stat().st_size for name in names)
    screen = io.StringIO()
    monkeypatch.setattr(filing, "err", Console(file=screen, force_terminal=True, width=160))
    result = mf("file", str(archive), "--cloud-id", mf.cloud_id, "--user", "jdoe")
    assert result.exit_code == 0, result.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "3/3" in shown  # the files done, of all
    assert f"{total / 1000:.1f}/{total / 1000:.1f} kB" in shown  # the bytes done, of all
    assert "/s" in shown and re.search(r"\d:\d\d:\d\d", shown)  # the rate, the time left


def test_jobs_reads_and_files_several_messages_at_once_reporting_in_order(
    mf: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from mailfiler.service import reader_pool

    archive = tmp_path / "archive"
    archive.mkdir()
    names = ["encoded-words.eml", "text-only.eml", "ambiguous.eml", "inline-image.eml",
             "long-lines.eml", "forwarded.eml"]  # fmt: skip
    for number, name in enumerate(names):
        shutil.copy(FIXTURES / name, archive / f"{number}-{name}")
    pool = reader_pool.shared()
    at_once: list[int] = []
    reading = 0
    lock = threading.Lock()

    class Watched:
        def read(self, data: bytes) -> Any:
            nonlocal reading
            with lock:
                reading += 1
                at_once.append(reading)
            try:
                time.sleep(0.2)  # long enough for the others to start theirs
                return pool.read(data)
            finally:
                with lock:
                    reading -= 1

    monkeypatch.setattr(reader_pool, "shared", lambda: Watched())
    result = mf("file", str(archive), "--cloud-id", mf.cloud_id, "--user", "jdoe", "--json",
                "--jobs", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Reported in the order of the files, whichever finished first; each filed once.
    assert [Path(r["source"]).name for r in reports] == sorted(os.listdir(archive))
    assert max(at_once) == 3
    saved = sum(r["status"] == "saved" for report in reports for r in report["results"])
    assert saved == len(mf.records()) > 0
    # One at a time when asked.
    at_once.clear()
    again = mf("file", str(archive), "--cloud-id", mf.cloud_id, "--user", "jdoe", "--recheck",
               "--jobs", "1")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert max(at_once) == 1
    assert len(mf.records()) == saved  # nothing filed twice
