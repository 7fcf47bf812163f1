"""The command line for an organisation that files into iMIS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.imis_site import MANAGER_PASSWORD, Site
from tests.test_cli import Cli


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
    assert {i["RecipientId"] for i in site.standin.interactions} == {"101", "109"}
    records = json.loads(
        mf("records", "--cloud-id", mf.cloud_id, "--contact", "101", "--json").stdout
    )
    assert [(r["contact_id"], r["saved_by"], r["created_by"]) for r in records] == [
        ("101", "admin", "MANAGER")
    ]


def test_the_address_account_and_password_change_and_are_never_printed(mf: Cli, site: Site) -> None:
    init(mf, site)
    mapping = "imis.interaction_message_type_value=E-mail"
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
