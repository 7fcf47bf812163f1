"""The command line for an organisation that files into iMIS."""

from __future__ import annotations

import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mailfiler import cli
from mailfiler.cli import common, filing
from tests.conftest import FIXTURES
from tests.imis_site import MANAGER_PASSWORD, Site, imis_site, recorded_pauses
from tests.test_cli import Cli, runner


@pytest.fixture
def mf(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path / "blobs")


def init(mf: Cli, site: Site, password: str = MANAGER_PASSWORD) -> object:
    return mf("init", "--cloud-id", mf.cloud_id, "--name", "Acme", "--crm", "imis",
              "--imis-url", site.url, "--background-account", "MANAGER",
              "--background-password-stdin", stdin=password + "\n")  # fmt: skip


def test_an_organisation_is_set_to_imis_and_files_as_the_user_named(mf: Cli, site: Site) -> None:
    made = init(mf, site)
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    assert site.url in made.output and MANAGER_PASSWORD not in made.output  # type: ignore[attr-defined]
    result = mf("file", str(FIXTURES / "text-only.eml"), "--cloud-id", mf.cloud_id,
                "--user", "admin", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[0])
    assert {r["status"] for r in report["results"]} == {"saved"}
    assert {i["PartyId"] for i in site.standin.interactions} == {"101", "109"}
    records = json.loads(
        mf("records", "--cloud-id", mf.cloud_id, "--contact", "101", "--json").stdout
    )
    assert [(r["contact_id"], r["saved_by"], r["created_by"]) for r in records] == [
        ("101", "admin", "MANAGER")
    ]


def test_the_address_account_and_password_change_and_are_never_printed(mf: Cli, site: Site) -> None:
    init(mf, site)
    mapping = "imis.new_address_purpose=Work"
    changed = mf("options", "set", "--cloud-id", mf.cloud_id, "--imis-url", site.url + "/",
                 "--background-account", "SERVICE", "--background-password-stdin", mapping,
                 stdin="another-secret\n")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "another-secret" not in changed.output
    assert f"Files into iMIS at {site.url} as SERVICE" in changed.output
    wrong = mf("options", "set", "--cloud-id", mf.cloud_id, "imis.no_such_name=x")
    assert wrong.exit_code == 2 and "no_such_name" in wrong.output


def test_without_a_secret_key_the_password_cannot_be_stored(
    mf: Cli, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILFILER_SECRET_KEY")
    refused = init(mf, site)
    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert "MAILFILER_SECRET_KEY is not set" in refused.output  # type: ignore[attr-defined]


# -- what an Options admin may set (issue 14, finding 2) -------------------------------------


def invoke(mf: Cli, *args: str, stdin: str | None = None, **env: str) -> Any:
    return runner.invoke(cli.app, [*mf.base, *args], input=stdin, env={"COLUMNS": "250", **env})


def test_the_address_changes_only_with_the_password(mf: Cli, site: Site) -> None:
    init(mf, site)
    with imis_site() as other:
        alone = mf("options", "set", "--cloud-id", mf.cloud_id, "--imis-url", other.url)
        assert alone.exit_code == 2
        assert "--imis-url needs --background-password-stdin" in alone.output
        assert "never sends the stored background password to a new address" in alone.output
        account = mf("options", "set", "--cloud-id", mf.cloud_id, "--background-account", "X")
        assert account.exit_code == 2 and "needs its password" in account.output
        # Refused changes send nothing anywhere (init's own check asked the first site once).
        assert other.standin.token_requests == [] and site.standin.token_requests == ["MANAGER"]
        moved = mf("options", "set", "--cloud-id", mf.cloud_id, "--imis-url", other.url,
                   "--background-password-stdin", stdin=MANAGER_PASSWORD + "\n")  # fmt: skip
        assert moved.exit_code == 0, moved.output
        assert f"Files into iMIS at {other.url} as MANAGER" in moved.output
        # The accepted change is checked at the new site, with the password given for it.
        assert other.standin.token_requests == ["MANAGER"]
        assert site.standin.token_requests == ["MANAGER"]


@pytest.mark.parametrize(
    "value",
    [
        "imis.interaction_entity=../../token",
        "imis.timeout_seconds=-1",
        "imis.retries=100000",
        "imis.page_size=0",
    ],
)
def test_mapping_values_are_checked(mf: Cli, site: Site, value: str) -> None:
    init(mf, site)
    refused = mf("options", "set", "--cloud-id", mf.cloud_id, value)
    assert refused.exit_code == 2 and value[5:].split("=")[0] in refused.output


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://10.1.2.3", "it is a private, loopback or link-local address"),
        ("https://[fe80::1]:8443", "it is a private, loopback or link-local address"),
        ("https://0.0.0.0", "never an iMIS site"),
    ],
)
def test_without_the_setting_local_addresses_are_refused(
    mf: Cli, site: Site, url: str, said: str
) -> None:
    made = invoke(mf, "init", "--cloud-id", mf.cloud_id, "--name", "Acme", "--crm", "imis",
                  "--imis-url", url, "--background-password-stdin",
                  stdin=MANAGER_PASSWORD + "\n", MAILFILER_ALLOW_LOCAL_CRM="0")  # fmt: skip
    assert made.exit_code == 2 and said in made.output
    plain = invoke(mf, "init", "--cloud-id", mf.cloud_id, "--name", "Acme", "--crm", "imis",
                   "--imis-url", site.url, "--background-password-stdin",
                   stdin=MANAGER_PASSWORD + "\n", MAILFILER_ALLOW_LOCAL_CRM="0")  # fmt: skip
    assert plain.exit_code == 2 and "must start with https://" in plain.output


# -- a bulk run rides out throttling and dropped connections (issue 14, finding 5) -------------


def messages(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(1, count + 1):
        (folder / f"{n:03}.eml").write_bytes(
            b"From: ann@members.example\r\nTo: nobody@nowhere.example\r\n"
            + f"Subject: message {n}\r\nMessage-ID: <bulk-{n}@members.example>\r\n".encode()
            + b"\r\nHello.\r\n"
        )
    return folder


def test_a_bulk_run_rides_out_throttling_and_dropped_connections(
    mf: Cli, site: Site, tmp_path: Path
) -> None:
    init(mf, site)
    folder = messages(tmp_path / "inbox", 200)
    party = "/api/Party"  # each message's contact lookup
    site.standin.faults_on = {
        (party, 50): ["429"] * 6,  # more than the old three retries, no Retry-After
        (party, 100): ["reset"],  # a dropped connection
        (party, 150): ["429:120"],  # a long Retry-After, within the patience
        (party, 170): ["429:100000"],  # longer than the patience: this message waits not
    }
    with recorded_pauses() as pauses:
        # One message at a time: the faults fall on the Nth request, so on one message.
        result = invoke(mf, "file", str(folder), "--cloud-id", mf.cloud_id, "--user", "admin",
                        "--jobs", "1", MAILFILER_CRM_PATIENCE="600")  # fmt: skip
    filed = {i["Subject"] for i in site.standin.interactions}
    [missing] = {f"message {n}" for n in range(1, 201)} - filed
    name = f"{int(missing.split()[1]):03}.eml"
    assert result.exit_code == 4, result.output
    # The table's problem column (it folds to the terminal's width) says why.
    assert re.search(r"not\s+filed:", result.output) and "busy" in result.output
    closing = result.output.split("Not filed, the CRM could not be reached or did not take them")
    assert closing[1].startswith(" (1): ") and name in closing[1]
    assert 120.0 in pauses and sum(pauses) < 600
    backing_off = pauses[:6]
    assert all(a < b for a, b in itertools.pairwise(backing_off))
    # Filing them again files only what is missing.
    with recorded_pauses():
        again = invoke(mf, "file", str(folder), "--cloud-id", mf.cloud_id, "--user", "admin")
    assert again.exit_code == 0, again.output
    assert len(site.standin.interactions) == 200
    assert "1 contact(s) saved, 0 already saved" in again.output
    assert "199 filed before (not read again)" in again.output


def test_a_pause_shows_on_the_progress_line_and_past_the_patience_a_message_waits_not(
    mf: Cli, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(mf, site)
    folder = messages(tmp_path / "inbox", 3)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    for module in (common, filing):  # the progress line, and the pause said on it
        monkeypatch.setattr(module, "err", console)
    site.standin.faults_on = {("/api/Party", 2): ["429:45"]}
    with recorded_pauses() as pauses:
        result = invoke(mf, "file", str(folder), "--cloud-id", mf.cloud_id, "--user", "admin",
                        MAILFILER_CRM_PATIENCE="60")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pauses == [45.0]
    assert "waiting 45 s: iMIS asks mailfiler to slow down" in screen.getvalue()
    # The second message of the next run (the lookups so far: 3, and one 429 tried again).
    site.standin.faults_on = {("/api/Party", 6): ["429:3600"]}
    more = messages(tmp_path / "more", 3)
    for n, path in enumerate(sorted(more.iterdir()), start=1):
        path.write_bytes(path.read_bytes().replace(b"bulk-", b"more-").replace(
            f"message {n}".encode(), f"more {n}".encode()))  # fmt: skip
    with recorded_pauses() as pauses:
        given_up = invoke(mf, "file", str(more), "--cloud-id", mf.cloud_id, "--user", "admin",
                          "--json", "--jobs", "1", MAILFILER_CRM_PATIENCE="60")  # fmt: skip
    assert given_up.exit_code == 4
    reports = [json.loads(line) for line in given_up.stdout.splitlines() if line.startswith("{")]
    assert [r["crm_error"] is not None for r in reports] == [False, True, False]
    assert "it asks mailfiler to wait 3600 seconds" in reports[1]["crm_error"]
    assert pauses == []  # not waited at all
    assert {i["Subject"] for i in site.standin.interactions} >= {"more 1", "more 3"}


def test_after_a_message_given_up_a_short_retry_after_is_still_waited_out(
    mf: Cli, site: Site, tmp_path: Path
) -> None:
    init(mf, site)
    folder = messages(tmp_path / "inbox", 6)
    # The second lookup asks for far longer than the patience; the next ones, briefly.
    site.standin.faults_on = {("/api/Party", 2): ["429:100000", "429:2", "429:2", "429:2"]}
    with recorded_pauses() as pauses:
        result = invoke(mf, "file", str(folder), "--cloud-id", mf.cloud_id, "--user", "admin",
                        "--json", "--jobs", "1", MAILFILER_CRM_PATIENCE="60")  # fmt: skip
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["crm_error"] is not None for r in reports] == [False, True] + [False] * 4
    assert pauses == [2.0, 2.0, 2.0]
    assert len(site.standin.interactions) == 5  # every message but the one given up


@pytest.mark.parametrize("retry_after", ["inf", "1e400", "Infinity", "nan"])
def test_a_retry_after_no_clock_can_hold_is_one_message_s_problem(
    mf: Cli, site: Site, tmp_path: Path, retry_after: str
) -> None:
    init(mf, site)
    folder = messages(tmp_path / "inbox", 3)
    site.standin.faults_on = {("/api/Party", 2): [f"429:{retry_after}"] * 20}
    with recorded_pauses():
        result = invoke(mf, "file", str(folder), "--cloud-id", mf.cloud_id, "--user", "admin",
                        "--json", "--jobs", "1", MAILFILER_CRM_PATIENCE="60")  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 3 and reports[0]["crm_error"] is None


def test_a_setting_of_the_environment_that_is_not_a_number_is_one_sentence(
    mf: Cli, site: Site
) -> None:
    init(mf, site)
    wrong = invoke(mf, "records", "--cloud-id", mf.cloud_id, MAILFILER_CRM_PATIENCE="abc")
    assert wrong.exit_code == 2
    assert "MAILFILER_CRM_PATIENCE must be a number" in wrong.output
    assert "Traceback" not in wrong.output
