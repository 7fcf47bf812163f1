"""A bulk run killed (kill -9) while iMIS is writing, then run again: nothing is written twice.

The real command line, in processes of its own, against the stand-in iMIS site: the record
in flight when the process died becomes "unsure" at once (however old its reservation), the
record never sent is written by the rerun, and settling the unsure one as landed makes it a
duplicate from then on.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mailfiler.core.message import message_id_key
from mailfiler.service import Service
from mailfiler.storage.tables import FilingEntry, Organisation
from tests.conftest import FIXTURES, Org
from tests.imis_site import SECRET_KEY, Site, new_imis_org

MAILFILER = str(Path(sys.executable).with_name("mailfiler"))


def command(service: Service, *args: str) -> list[str]:
    settings = service.settings
    return [MAILFILER, "--db", settings.database_url, "--blobs", str(settings.blobs_dir), *args]


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "MAILFILER_SECRET_KEY": SECRET_KEY,
        "MAILFILER_ALLOW_LOCAL_CRM": "1",
        "COLUMNS": "250",
    }


def run(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(service, *args), env=environment(), capture_output=True, text=True, timeout=120
    )


def results(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    [report] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["contact_ids"][0]: r for r in report["results"] if r["contact_ids"]}


def organisation_id(service: Service, cloud_id: str) -> int:
    with service.unit() as session:
        found = session.scalar(select(Organisation.id).where(Organisation.cloud_id == cloud_id))
    assert found is not None
    return found


def wait_for(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the stand-in site never saw it"
        time.sleep(0.05)


def test_a_run_killed_mid_write_never_writes_that_record_twice(
    service: Service, site: Site
) -> None:
    org = new_imis_org(service, site)
    message = str(FIXTURES / "text-only.eml")  # Ann (101) and Ines (109)
    filing = ["file", message, "--cloud-id", org.cloud_id, "--user", "admin", "--json"]
    site.standin.hold_writes = True  # iMIS takes its time: the first write is in flight...
    first = subprocess.Popen(
        command(service, *filing), env=environment(), stdout=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: site.standin.writes >= 1)
    finally:
        first.send_signal(signal.SIGKILL)  # ...when the process is killed
        first.wait()
    # As the finding had it: the reservation is old by the time of the rerun.
    with service.unit() as session:
        left = session.scalars(
            select(FilingEntry).where(
                FilingEntry.organisation_id == organisation_id(service, org.cloud_id),
                FilingEntry.state == "pending",
            )
        ).all()
        assert len(left) == 2  # both records were reserved; one was being sent
        for entry in left:
            entry.reserved_at -= timedelta(hours=1)
            entry.alive_at = entry.reserved_at
    # The rerun's writes are answered at once; the killed process's stays in flight until
    # the rerun has looked for it (however long a busy machine makes the rerun take).
    site.standin.hold_writes = False
    rerun = run(service, *filing)
    site.standin.release_writes = True
    found = results(rerun)
    [in_flight] = [c for c, r in found.items() if r["status"] == "unsure"]
    [never_sent] = [c for c, r in found.items() if r["status"] == "saved"]
    # iMIS was asked first (it may still be writing it): the record is not sent again.
    assert "may have been written" in found[in_flight]["reason"]
    assert "another save" not in rerun.stdout
    assert rerun.returncode != 0  # a record needs checking: the run says so
    # The killed process's write lands in iMIS; nothing sent it a second time.
    wait_for(lambda: len(site.standin.interactions) == 2)
    recipients = sorted(i["PartyId"] for i in site.standin.interactions)
    assert recipients == sorted([in_flight, never_sent])

    listed = json.loads(run(service, "records", "--cloud-id", org.cloud_id, "--to-check",
                            "--json").stdout)  # fmt: skip
    [check] = listed
    assert (check["contact_id"], check["status"]) == (in_flight, "unsure")
    assert "stopped before iMIS answered" in check["reason"], check["reason"]
    landed = next(i["Id"] for i in site.standin.interactions if i["PartyId"] == in_flight)
    settled = run(service, "settle", str(check["number"]), "--cloud-id", org.cloud_id,
                  "--landed", landed, "--by", "admin")  # fmt: skip
    assert settled.returncode == 0, settled.stderr
    assert f"now saved as {landed}" in settled.stdout
    # Every record of it saved: a rerun passes over it unread; read again, each is a duplicate.
    passed_over = run(service, *filing)
    [report] = [json.loads(line) for line in passed_over.stdout.splitlines() if line]
    assert report["filed_before"] and report["results"] == []
    assert "passed over 1 message(s) filed before" in passed_over.stderr
    again = results(run(service, *filing, "--recheck"))
    assert {r["status"] for r in again.values()} == {"duplicate"}
    assert again[in_flight]["record_id"] == landed
    assert len(site.standin.interactions) == 2


# -- a batch killed at several points, on both databases (issue 17) ---------------------------

PEOPLE = {
    "ann@members.example": "101", "bob@members.example": "102",
    "farid@haddad.example": "106", "grace@ito.example": "107",
    "hugo@janssen.example": "108", "ines@kovac.example": "109",
}  # fmt: skip


def a_batch(folder: Path, count: int) -> dict[str, set[str]]:
    """``count`` messages, each from one contact to two others with a 60 KB attachment; the
    contacts each message's key should be filed to."""
    folder.mkdir()
    addresses = list(PEOPLE)
    expected: dict[str, set[str]] = {}
    for n in range(count):
        sender, *to = (addresses[(n + i) % len(addresses)] for i in range(3))
        attachment = base64.encodebytes(random.Random(n).randbytes(60_000))
        (folder / f"{n:03}.eml").write_bytes(
            f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: batch {n}\r\n"
            f"Message-ID: <batch-{n}@members.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\nThe minutes, attached.\r\n--b\r\n"
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="minutes-{n}.pdf"\r\n\r\n'.encode()
            + attachment
            + b"--b--\r\n"
        )
        expected[f"<batch-{n}@members.example>"] = {PEOPLE[a] for a in (sender, *to)}
    return expected


def kill_after(arguments: list[str], reports: int, then: float) -> int:
    """Run the command, kill it (SIGKILL) ``then`` seconds after its ``reports``-th report
    line; the reports it printed."""
    running = subprocess.Popen(arguments, env=environment(), stdout=subprocess.PIPE)
    assert running.stdout is not None
    printed = 0
    try:
        while printed < reports and running.stdout.readline():
            printed += 1
        time.sleep(then)
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
        running.stdout.close()
    return printed


def test_a_batch_killed_at_several_points_then_run_again_files_each_message_exactly_once(
    org: Org, tmp_path: Path
) -> None:
    from mailfiler.connectors.builtin.tables import Interaction, StoredAttachment

    service = org.service
    expected = a_batch(tmp_path / "archive", 16)
    filing = command(service, "file", str(tmp_path / "archive"), "--cloud-id", org.cloud_id,
                     "--user", "jdoe", "--json", "--jobs", "2")  # fmt: skip
    organisation = organisation_id(service, org.cloud_id)

    def saved() -> int | None:
        with service.unit() as session:
            return session.scalar(
                select(func.count()).where(
                    FilingEntry.organisation_id == organisation, FilingEntry.state == "saved"
                )
            )

    # Killed between messages, while the next ones are written, and again on reruns (each
    # passing over what the runs before filed whole).
    assert kill_after(filing, 1, 0.0) == 1
    assert 0 < (saved() or 0) < 48  # killed before the batch was done
    assert kill_after(filing, 6, 0.02) == 6
    assert kill_after(filing, 11, 0.05) == 11
    done = subprocess.run(filing, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 16
    assert any(r["filed_before"] for r in reports)  # the runs before filed some of it
    with service.unit() as session:
        entries = session.scalars(
            select(FilingEntry).where(FilingEntry.organisation_id == organisation)
        ).all()
        records = session.scalars(
            select(Interaction).where(Interaction.organisation_id == organisation)
        ).all()
        files = session.scalars(
            select(StoredAttachment).where(StoredAttachment.organisation_id == organisation)
        ).all()
        contents = {f.sha256: service.blobs.get(session, f.sha256) for f in files}
    # Every message to each of its contacts once: one saved entry, one record, one file.
    filed = sorted((e.message_key, e.contact_id) for e in entries)
    wanted = sorted(
        (message_id_key(message_id), contact)
        for message_id, contacts in expected.items()
        for contact in contacts
    )
    assert filed == wanted
    assert {e.state for e in entries} == {"saved"}
    # No orphan: each record is the one an entry names, and each has its attachment whole.
    assert sorted(str(r.id) for r in records) == sorted(str(e.record_id) for e in entries)
    assert sorted(f.interaction_id for f in files) == sorted(r.id for r in records)
    assert all(contents[f.sha256] is not None and len(contents[f.sha256] or b"") == f.size
               for f in files)  # fmt: skip
