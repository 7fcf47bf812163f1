"""The iMIS set-up check (connectors/imis/check.py) against the strict stand-in: a site that
answers, one that is down, one that is not iMIS, a wrong password, no search query; through
the service (both databases), the command line and the API; what staff are told instead; the
start-up line of a server without its key; users added in iMIS, not here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from mailfiler import accounts, cli
from mailfiler.accounts.signin import NOT_SET_UP
from mailfiler.api.app import create_app
from mailfiler.connectors import patience
from mailfiler.connectors.imis.check import SetUpCheck, SiteFacts
from mailfiler.connectors.imis.client import forget_tokens
from mailfiler.core.words import sentence
from mailfiler.service import Service
from mailfiler.storage.secrets import KEY_VARIABLE
from tests.conftest import fixture_bytes, free_port, serving
from tests.imis_site import recorded_pauses  # its import sets the key and allows local sites
from tests.imis_standin import Party, StandIn, User, contact_search
from tests.test_cli import Cli, runner

QUERY = "$/Mailfiler/Contact Search"
PASSWORD = "manager-secret"
STAFF_PASSWORD = "jdoe-imis-password"
EVERY_LINE = [
    "background account",
    "a user's roles",
    "Interactions (CommunicationLogRecipient)",
    "Interactions' files (CommunicationLogRecipientAttachment)",
    "Activities (Activity)",
    "new contacts (Person)",
    "contact search",
    "files on an Activity",
]


# -- a site, and an organisation that files into it --------------------------------------------


def standin(**switches: Any) -> StandIn:
    """An iMIS site as the notes describe one, with a contact search as ASI's guide asks."""
    site = StandIn(**switches)
    site.parties["101"] = Party("101", "Ann Archer", ["ann@members.example"], "Members Ltd")
    site.users = {
        "MANAGER": User(PASSWORD, ["SysAdmin"]),
        "jdoe": User(STAFF_PASSWORD, ["Staff"], "201", "jdoe@acme.example"),
    }
    site.queries[QUERY] = contact_search()
    return site


@dataclass
class Site:
    standin: StandIn
    url: str


@contextmanager
def running(site: StandIn) -> Iterator[Site]:
    forget_tokens()  # no token of another test's site in this process
    with serving(site.app()) as url:
        yield Site(site, url)


@pytest.fixture
def imis() -> Iterator[Site]:
    with running(standin()) as site:
        yield site


def nothing_listens() -> str:
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def not_imis() -> Iterator[str]:
    """A plain web server: every address answers a page, none a token."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<h1>It works!</h1>")

    app = Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])
    with serving(app) as url:
        yield url


def organisation(
    service: Service,
    url: str,
    *,
    password: str = PASSWORD,
    edition: str = "enterprise",
    **mapping: Any,
) -> str:
    cloud_id = "K" + uuid.uuid4().hex[:10].upper()
    with service.unit() as session:
        accounts.create_organisation(
            session, cloud_id, "Acme on iMIS", "MANAGER", edition, crm="imis", remote=True,
            crm_url=url, background_password=password,
        )  # fmt: skip
        accounts.set_crm(session, cloud_id, mapping={"search_query": QUERY, **mapping})
    return cloud_id


def stored_facts(service: Service, cloud_id: str) -> Any:
    with service.unit() as session:
        return accounts.tenant(session, cloud_id).crm_settings.site


def line(checked: SetUpCheck, what: str) -> tuple[bool, str]:
    [found] = [(ln.ok, ln.says) for ln in checked.lines if ln.what == what]
    return found


def set_password(cloud_id: str) -> str:
    return f"mailfiler options set --cloud-id {cloud_id} --background-password-stdin"


# -- the check, through the service ------------------------------------------------------------


def test_a_site_that_answers_is_right_on_every_line_and_nothing_is_written(
    service: Service, imis: Site
) -> None:
    cloud_id = organisation(service, imis.url)
    checked = service.check_crm(cloud_id)
    assert checked.ok, checked.public()
    assert [ln.what for ln in checked.lines] == EVERY_LINE
    assert line(checked, "background account")[1] == (
        f"mailfiler signs in to iMIS at {imis.url} as MANAGER"
    )
    assert "(SysAdmin)" in line(checked, "a user's roles")[1]  # from UserSecurity: Roles null
    assert "this iMIS takes no files on an Activity" in line(checked, "files on an Activity")[1]
    # QueryName first, the probe a plain value: the stand-in refuses anything else.
    assert imis.standin.iqa_runs == [("manager", QUERY, [""])]
    site = imis.standin
    assert (site.writes, site.interactions, site.attachments, site.activities) == (0, [], [], [])
    assert list(site.parties) == ["101"]
    facts = stored_facts(service, cloud_id)
    assert facts["site"] == imis.url and facts["checked"] is True
    assert facts["activity_attachments"] is False
    assert facts["search_columns"] == {"id": "ID", "name": "Full Name", "email": "Email Address"}
    properties = facts["activity_properties"]
    assert (
        properties["DESCRIPTION"] == "String(255)" and properties["ACTIVITY_TYPE"] == "String(10)"
    )
    assert (properties["UF_4"], properties["UF_6"]) == ("Decimal", "Date")
    assert SiteFacts.from_json(facts) == checked.facts


def test_files_on_an_activity_are_found_where_the_site_takes_them_and_none_is_written(
    service: Service,
) -> None:
    with running(standin(activity_attachments=True)) as site:
        checked = service.check_crm(organisation(service, site.url))
    assert checked.ok and checked.facts.activity_attachments
    assert line(checked, "files on an Activity") == (
        True, "iMIS takes files on an Activity (LegacyActivityAttachment)"
    )  # fmt: skip
    assert site.standin.activity_files == [] and site.standin.activities == []


def test_where_the_metadata_says_nothing_a_list_read_finds_the_entity(service: Service) -> None:
    described = {"CommunicationLogRecipient", "CommunicationLogRecipientAttachment"}
    with running(standin(activity_metadata=False, metadata_entities=described)) as site:
        checked = service.check_crm(organisation(service, site.url))
    assert checked.ok, checked.public()
    assert line(checked, "Activities (Activity)") == (True, "iMIS has Activity")
    # GET /api/Person answers 405 (a POST only): the resource is there.
    assert line(checked, "new contacts (Person)") == (True, "iMIS has Person")
    assert checked.facts.activity_properties == {}  # the connector uses the table's types


def test_a_professional_edition_is_not_asked_about_activities(service: Service, imis: Site) -> None:
    checked = service.check_crm(organisation(service, imis.url, edition="professional"))
    assert checked.ok
    assert [ln.what for ln in checked.lines] == [
        w for w in EVERY_LINE if w not in ("Activities (Activity)", "files on an Activity")
    ]


def test_a_site_that_is_down_is_one_line_and_its_detail_goes_to_the_log(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    url = nothing_listens()
    cloud_id = organisation(service, url)
    with recorded_pauses() as pauses:
        checked = service.check_crm(cloud_id)
    assert [(ln.what, ln.ok, ln.says) for ln in checked.lines] == [(
        "background account", False,
        f"mailfiler cannot reach the iMIS site at {url}: check that the address is right and "
        f"the site is up (mailfiler options set --cloud-id {cloud_id} --imis-url … "
        "--background-password-stdin)",
    )]  # fmt: skip
    assert 0 < sum(pauses) <= patience.INTERACTIVE  # one allowance for the whole check
    assert "Errno" not in checked.public().__repr__()
    assert "ConnectError" in caplog.text  # the administrator's detail
    assert stored_facts(service, cloud_id) == SiteFacts(site=url).to_json()


def test_an_address_that_is_not_imis_is_said_so(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    with not_imis() as url:
        cloud_id = organisation(service, url)
        checked = service.check_crm(cloud_id)
    assert [(ln.ok, ln.says) for ln in checked.lines] == [(
        False,
        f"{url} answers, but not as an iMIS site: check the address, the site's own such as "
        f"https://acme.imiscloud.com, without /api (mailfiler options set --cloud-id {cloud_id}"
        " --imis-url … --background-password-stdin)",
    )]  # fmt: skip
    assert "POST /token answered 200" in caplog.text


def test_a_wrong_password_is_said_with_what_to_do(service: Service, imis: Site) -> None:
    cloud_id = organisation(service, imis.url, password="not-the-password")
    checked = service.check_crm(cloud_id)
    assert [(ln.ok, ln.says) for ln in checked.lines] == [(
        False,
        f"iMIS refused the background account MANAGER: set its password again "
        f"({set_password(cloud_id)}), and check in iMIS that the account is enabled and its "
        "password has not expired",
    )]  # fmt: skip
    assert imis.standin.token_requests == ["MANAGER"]  # tried once, not once per line


def test_without_a_search_query_only_the_search_is_to_fix(service: Service, imis: Site) -> None:
    cloud_id = organisation(service, imis.url, search_query="")
    checked = service.check_crm(cloud_id)
    assert [ln.what for ln in checked.lines if not ln.ok] == ["contact search"]
    assert line(checked, "contact search")[1] == (
        "no search query is set: give the IQA query staff search contacts with (mailfiler "
        f"options set --cloud-id {cloud_id} imis.search_query=…); it needs an ID, a full name "
        "and an Email column"
    )
    assert imis.standin.iqa_runs == []


def test_a_search_query_that_does_not_exist_is_named_with_where_to_set_it(
    service: Service, imis: Site
) -> None:
    cloud_id = organisation(service, imis.url, search_query="$/Nowhere/Contacts")
    checked = service.check_crm(cloud_id)
    assert line(checked, "contact search") == (
        False,
        "the search query $/Nowhere/Contacts does not exist in iMIS: set it with mailfiler "
        f"options set --cloud-id {cloud_id} imis.search_query=…",
    )


def test_the_columns_missing_from_the_query_are_named_and_a_mapping_names_them(
    service: Service, imis: Site
) -> None:
    imis.standin.queries[QUERY] = contact_search(name_column="Name", email_column="Address")
    cloud_id = organisation(service, imis.url)
    ok, says = line(service.check_crm(cloud_id), "contact search")
    assert not ok
    assert "no full name column (FullName or Full Name)" in says
    assert "no column whose name holds Email" in says and "ID column" not in says
    named = organisation(service, imis.url, search_name_column="Name", search_email_column="E-mail")
    ok, says = line(service.check_crm(named), "contact search")
    assert not ok and "no column 'E-mail' (imis.search_email_column)" in says
    with service.unit() as session:
        accounts.set_crm(session, named, mapping={
            "search_query": QUERY, "search_name_column": "Name", "search_email_column": "Address",
        })  # fmt: skip
    checked = service.check_crm(named)
    assert checked.ok
    assert checked.facts.search_columns == {"id": "ID", "name": "Name", "email": "Address"}


def test_a_site_busy_past_the_patience_stops_the_check_and_keeps_what_was_known(
    service: Service, imis: Site
) -> None:
    cloud_id = organisation(service, imis.url)
    assert service.check_crm(cloud_id).ok
    known = stored_facts(service, cloud_id)
    imis.standin.throttle_next = 1000  # every read answered 429
    with recorded_pauses():
        checked = service.check_crm(cloud_id)
    assert [(ln.what, ln.ok) for ln in checked.lines] == [
        ("background account", True), ("a user's roles", False)
    ]  # fmt: skip
    assert "is busy (it keeps answering 429): check again later" in checked.lines[1].says
    assert stored_facts(service, cloud_id) == known  # a busy moment forgets nothing


def test_facts_survive_a_site_down_for_a_moment_but_not_a_move(service: Service) -> None:
    with running(standin(activity_attachments=True)) as site:
        cloud_id = organisation(service, site.url)
        assert service.check_crm(cloud_id).ok
    learnt = stored_facts(service, cloud_id)
    assert learnt["activity_attachments"] is True
    with recorded_pauses():
        assert not service.check_crm(cloud_id).ok  # the same address, down
    assert stored_facts(service, cloud_id) == learnt
    elsewhere = nothing_listens()
    with service.unit() as session:
        accounts.set_crm(session, cloud_id, url=elsewhere, background_password=PASSWORD)
    with recorded_pauses():
        service.check_crm(cloud_id)
    assert stored_facts(service, cloud_id) == SiteFacts(site=elsewhere).to_json()


def test_stored_facts_are_read_back_and_anything_else_is_not_known() -> None:
    facts = SiteFacts("https://acme.imiscloud.com", True, True, {"UF_4": "Decimal"}, {"id": "ID"})
    assert SiteFacts.from_json(facts.to_json()) == facts
    assert SiteFacts.from_json(None) == SiteFacts()
    odd = {"checked": "yes", "activity_attachments": 1, "activity_properties": ["UF_4"]}
    assert SiteFacts.from_json(odd) == SiteFacts()


# -- what staff are told --------------------------------------------------------------------------


def sign_in(client: TestClient, cloud_id: str) -> Any:
    return client.post(
        "/api/v1/session",
        json={"cloud_id": cloud_id, "username": "jdoe", "password": STAFF_PASSWORD},
    )


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


def test_staff_are_told_whom_to_ask_and_never_the_detail(
    service: Service, client: TestClient, imis: Site
) -> None:
    told = {}
    with recorded_pauses():
        told["down"] = sign_in(client, organisation(service, nothing_listens()))
    with not_imis() as url:
        told["not iMIS"] = sign_in(client, organisation(service, url))
    told["refused"] = sign_in(client, organisation(service, imis.url, password="wrong"))
    assert {what: (a.status_code, a.json()["detail"]) for what, a in told.items()} == {
        "down": (503, "Mailfiler cannot reach your iMIS site: tell your administrator"),
        "not iMIS": (
            503,
            "The iMIS address mailfiler has for your organisation does not answer as iMIS: "
            "tell your administrator",
        ),
        "refused": (503, "iMIS refused mailfiler's background account: tell your administrator"),
    }
    assert imis.standin.token_requests == ["MANAGER"]  # jdoe's password never left for iMIS


def test_a_site_gone_down_after_sign_in_is_the_same_sentence_when_reading_and_searching(
    service: Service, client: TestClient
) -> None:
    with running(standin()) as site:
        cloud_id = organisation(service, site.url)
        signed = sign_in(client, cloud_id)
        assert signed.status_code == 201, signed.text
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    forget_tokens()
    with recorded_pauses():
        read = client.post(
            "/api/v1/messages",
            content=fixture_bytes("text-only.eml"),
            headers={**auth, "Content-Type": "message/rfc822"},
        )
        found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    unreachable = "Mailfiler cannot reach your iMIS site: tell your administrator"
    assert (read.status_code, read.json()["detail"]) == (503, unreachable)
    assert (found.status_code, found.json()["detail"]) == (503, unreachable)


def test_without_the_key_staff_are_told_it_is_not_set_up_when_searching(
    service: Service, client: TestClient, imis: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = sign_in(client, organisation(service, imis.url))
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    monkeypatch.delenv(KEY_VARIABLE)
    found = client.get("/api/v1/contacts", params={"q": "archer"}, headers=auth)
    assert (found.status_code, found.json()["detail"]) == (503, sentence(NOT_SET_UP))


def test_without_the_key_staff_are_told_it_is_not_set_up_when_reading_and_saving(
    service: Service, client: TestClient, imis: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = sign_in(client, organisation(service, imis.url))
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    forget_tokens()  # the background token must be asked for again: its password read
    monkeypatch.delenv(KEY_VARIABLE)
    read = client.post(
        "/api/v1/messages",
        content=fixture_bytes("text-only.eml"),
        headers={**auth, "Content-Type": "message/rfc822"},
    )
    assert read.status_code == 503
    assert read.json()["detail"] == sentence(NOT_SET_UP)


# -- the API: "Test the connection" ------------------------------------------------------------


def admin_headers(client: TestClient, cloud_id: str, imis: Site) -> dict[str, str]:
    imis.standin.users["boss"] = User("boss-imis-password", ["SysAdmin"], "202")
    answer = client.post(
        "/api/v1/session",
        json={"cloud_id": cloud_id, "username": "boss", "password": "boss-imis-password"},
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_options_roles_test_the_connection_outside_any_transaction(
    service: Service, client: TestClient, imis: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud_id = organisation(service, imis.url)
    auth = admin_headers(client, cloud_id, imis)
    # How many units of work are open at each request iMIS gets during the check.
    open_units: list[int] = []
    seen: list[int] = []
    units = service.unit

    @contextmanager
    def counted(reading: bool = False) -> Iterator[Any]:
        open_units.append(1)
        try:
            with units(reading) as session:
                yield session
        finally:
            open_units.pop()

    monkeypatch.setattr(service, "unit", counted)
    asked = imis.standin._faults
    monkeypatch.setattr(imis.standin, "_faults", lambda r: (seen.append(len(open_units)), asked(r)))
    answer = client.post("/api/v1/options/check", headers=auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True and [ln["what"] for ln in body["lines"]] == EVERY_LINE
    assert all(set(ln) == {"what", "ok", "says"} for ln in body["lines"])  # no detail
    assert seen and set(seen) == {0}
    assert stored_facts(service, cloud_id)["checked"] is True
    staff = sign_in(client, cloud_id).json()["token"]
    refused = client.post("/api/v1/options/check", headers={"Authorization": f"Bearer {staff}"})
    assert refused.status_code == 403


def test_the_api_answers_what_to_fix(service: Service, client: TestClient, imis: Site) -> None:
    cloud_id = organisation(service, imis.url, search_query="$/Nowhere/Contacts")
    auth = admin_headers(client, cloud_id, imis)
    body = client.post("/api/v1/options/check", headers=auth).json()
    assert body["ok"] is False
    [wrong] = [ln for ln in body["lines"] if not ln["ok"]]
    assert (
        wrong["what"] == "contact search" and "$/Nowhere/Contacts does not exist" in wrong["says"]
    )


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def mf(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path / "blobs")


def init(mf: Cli, url: str, password: str = PASSWORD) -> Any:
    return mf("init", "--cloud-id", mf.cloud_id, "--name", "Acme", "--crm", "imis",
              "--imis-url", url, "--background-account", "MANAGER",
              "--background-password-stdin", stdin=password + "\n")  # fmt: skip


def test_init_checks_the_set_up_then_a_search_query_makes_it_right(mf: Cli, imis: Site) -> None:
    made = init(mf, imis.url)
    assert made.exit_code == 0, made.output
    assert "Checking the iMIS set-up:" in made.output
    assert f"✓ background account: mailfiler signs in to iMIS at {imis.url} as MANAGER" in (
        made.output
    )
    assert "✗ contact search: no search query is set" in made.output
    assert f"then check again: mailfiler imis check --cloud-id {mf.cloud_id}" in made.output
    assert mf("imis", "check", "--cloud-id", mf.cloud_id).exit_code == 1
    given = mf("options", "set", "--cloud-id", mf.cloud_id, f"imis.search_query={QUERY}")
    assert given.exit_code == 0, given.output
    assert f"✓ contact search: the search query {QUERY} runs" in given.output
    assert "✗" not in given.output
    checked = mf("imis", "check", "--cloud-id", mf.cloud_id, "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["ok"] is True and [ln["what"] for ln in report["lines"]] == EVERY_LINE
    assert report["site"]["search_columns"]["email"] == "Email Address"


def test_init_keeps_the_settings_of_a_site_that_cannot_be_reached_and_says_so(mf: Cli) -> None:
    url = nothing_listens()
    with recorded_pauses():
        made = init(mf, url)
    assert made.exit_code == 0, made.output
    assert f"filing into iMIS at {url}" in made.output
    assert f"✗ background account: mailfiler cannot reach the iMIS site at {url}" in made.output
    assert "The settings are stored as given" in made.output
    with recorded_pauses():
        checked = mf("imis", "check", "--cloud-id", mf.cloud_id)
    assert checked.exit_code == 1
    assert "Errno" not in checked.output and "Traceback" not in checked.output


def test_options_set_checks_a_new_password_and_a_new_address(mf: Cli, imis: Site) -> None:
    init(mf, imis.url)
    wrong = mf("options", "set", "--cloud-id", mf.cloud_id, "--background-password-stdin",
               stdin="not-it\n")  # fmt: skip
    assert wrong.exit_code == 0, wrong.output  # stored all the same
    assert "not-it" not in wrong.output
    assert "✗ background account: iMIS refused the background account MANAGER" in wrong.output
    with not_imis() as url:
        moved = mf("options", "set", "--cloud-id", mf.cloud_id, "--imis-url", url,
                   "--background-password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert f"✗ background account: {url} answers, but not as an iMIS site" in moved.output
    back = mf("options", "set", "--cloud-id", mf.cloud_id, "--imis-url", imis.url,
              "--background-password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert "✓ background account" in back.output
    untouched = mf("options", "set", "--cloud-id", mf.cloud_id, "allow_duplicates=true")
    assert "Checking" not in untouched.output  # nothing the check looks at changed


def test_options_show_has_the_crm_block_and_never_the_password(mf: Cli, imis: Site) -> None:
    init(mf, imis.url)
    shown = mf("options", "show", "--cloud-id", mf.cloud_id)
    assert shown.exit_code == 0, shown.output
    options = json.loads(shown.stdout)
    crm = options["crm"]
    assert {k: crm[k] for k in ("crm", "url", "background_account", "background_password_set",
                                "mapping")} == {
        "crm": "imis", "url": imis.url, "background_account": "MANAGER",
        "background_password_set": True, "mapping": {},
    }  # fmt: skip
    assert crm["site"]["checked"] is True and crm["site"]["site"] == imis.url
    assert PASSWORD not in shown.output and "secret" not in shown.output
    assert options["max_total_emails"] == 50  # the options as before


def test_imis_check_of_an_organisation_on_the_built_in_crm_is_a_usage_error(mf: Cli) -> None:
    assert mf("init", "--cloud-id", mf.cloud_id, "--name", "Acme").exit_code == 0
    checked = mf("imis", "check", "--cloud-id", mf.cloud_id)
    assert checked.exit_code == 2
    assert "files into mailfiler's built-in CRM" in checked.output


def test_users_of_an_imis_organisation_are_added_in_imis(mf: Cli, imis: Site) -> None:
    init(mf, imis.url)
    added = mf("users", "add", "mlee", "--cloud-id", mf.cloud_id, "--password-stdin",
               stdin="long enough\n")  # fmt: skip
    assert added.exit_code == 2
    assert f"{mf.cloud_id}'s users sign in with their iMIS accounts: add them in iMIS" in (
        added.output
    )
    listed = mf("users", "list", "--cloud-id", mf.cloud_id, "--json")
    assert "mlee" not in listed.output


# -- the start-up line -----------------------------------------------------------------------


def serve(mf: Cli, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    import uvicorn

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **_: started.append(target))
    # serve hands its settings to the server's processes through these: put back afterwards.
    for name in ("MAILFILER_DB", "MAILFILER_BLOBS", "MAILFILER_MAX_MESSAGE_BYTES"):
        monkeypatch.setenv(name, "")
    result = runner.invoke(cli.app, [*mf.base, "serve", "--port", str(free_port())])
    return result, started


def test_a_server_started_without_its_key_says_so_once(
    mf: Cli, imis: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    init(mf, imis.url)
    monkeypatch.delenv(KEY_VARIABLE)
    result, started = serve(mf, monkeypatch)
    assert result.exit_code == 0, result.output
    assert started == ["mailfiler.api.app:app_from_environment"]
    said = [ln for ln in result.output.splitlines() if f"{KEY_VARIABLE} is not set" in ln]
    assert len(said) == 1 and said[0].startswith("warning:")
    assert "cannot sign in or save" in said[0]
    logged = [r for r in caplog.records if f"{KEY_VARIABLE} is not set" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "WARNING"


def test_a_server_with_its_key_says_nothing_of_it(
    mf: Cli, imis: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(mf, imis.url)
    result, started = serve(mf, monkeypatch)
    assert result.exit_code == 0 and started
    assert f"{KEY_VARIABLE} is not set" not in result.output
