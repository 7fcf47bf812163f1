"""The set-up check of an iMIS organisation: each thing mailfiler needs of the site, ✓ or one
sentence of what to fix.

It runs as ``mailfiler imis check``, after ``init`` or ``options set`` change the site, the
background account or its password, and behind the Options screen's "Test the connection".
As the background account, it asks (../shared/spec/imis-notes.md, "What ASI's own libraries
show"):

- a token (``POST /token``): a site that cannot be reached, an address that is not iMIS and
  a refused password are each said apart, since each has its own fix;
- a user's roles, the background account's own, as a staff sign-in reads them:
  ``GET /api/User?UserName=…``, else ``GET /api/UserSecurity?UserName=…``;
- each entity mailfiler writes: ``GET /api/metadata/<Entity>``, or where that answers 404,
  a list read of at most one row;
- the search query: ``GET /api/iqa?QueryName=…&parameter=…`` (``QueryName`` first, plain
  values: iMIS refuses operators), and its columns as ASI's Outlook Integration guide asks for
  them: an ID, a full name, a column whose name holds "Email";
- whether iMIS takes files on an Activity: ``POST /api/LegacyActivityAttachment`` with an
  empty body. 404: the site has no such endpoint; a refusal of the body: it has one.

Nothing is written in iMIS: every other request is a read, and an empty body holds nothing
iMIS could keep. What iMIS answered goes in each line's ``detail``, for the log: staff never
see it. What the check learnt of the site (``SiteFacts``) is kept with the organisation, for
the connector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from mailfiler.connectors import patience
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.accounts import RolesUnread, describe
from mailfiler.connectors.imis.client import (
    MOST_REFUSED_PASSWORDS,
    BackgroundAccountRefused,
    ImisClient,
    NotAnImisSite,
    SiteBusy,
    SiteFailed,
    SiteRefused,
    SiteUnreachable,
    TooManyRefused,
)
from mailfiler.connectors.imis.parties import search_columns
from mailfiler.errors import ConnectorUnavailable, MailfilerError, SystemFault

# Values the search query is run with until one finds a contact whose row shows the columns:
# an empty prompt (an optional IQA prompt then matches everyone), then single letters most
# names hold (a query's own filter may be "Contains" or "Starts with").
PROBES: Final = ("", "a", "e")
# The columns a contact search needs (``parties.search_columns`` finds them), as an
# administrator would look for them in the query.
NEEDED_COLUMNS: Final = {
    "id": "ID column",
    "name": "full name column (FullName or Full Name)",
    "email": "column whose name holds Email",
}
# The setting that names each column instead, where the query calls it otherwise.
COLUMN_SETTINGS: Final = {
    "id": "search_id_column",
    "name": "search_name_column",
    "email": "search_email_column",
    "organization": "search_organization_column",
}
# Entities of the communication log: a background account needs iMIS's "Communications"
# security group to use them (the notes).
COMMUNICATIONS: Final = ("CommunicationLogRecipient", "CommunicationLogRecipientAttachment")
ACTIVITY_FILES: Final = "/api/LegacyActivityAttachment"


@dataclass(frozen=True)
class Line:
    """One thing checked: whether it is right, and what was found or one sentence of what to
    fix (``says``). ``detail``: what iMIS answered, for the log, never shown to staff."""

    what: str
    ok: bool
    says: str
    detail: str = ""


@dataclass(frozen=True)
class SiteFacts:
    """What the check learnt of a site, kept with the organisation (``CrmSettings.site``).

    ``site``: the address it was learnt at (facts of another address say nothing of this
    one); ``checked``: every part of the check got an answer from the site;
    ``activity_properties``: the Activity's property names and their types as the site's
    metadata gives them ("String(255)", "Decimal", "Date"), empty when the site does not
    describe them; ``search_columns``: "id", "name", "email", "organization" -> the column of
    the search query found for each.
    """

    site: str = ""
    checked: bool = False
    activity_attachments: bool = False
    activity_properties: dict[str, str] = field(default_factory=dict)
    search_columns: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "checked": self.checked,
            "activity_attachments": self.activity_attachments,
            "activity_properties": dict(self.activity_properties),
            "search_columns": dict(self.search_columns),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SiteFacts:
        """The facts as stored; anything not of its kind is taken as not known."""
        data = data if isinstance(data, Mapping) else {}
        return cls(
            site=str(data.get("site") or ""),
            checked=data.get("checked") is True,
            activity_attachments=data.get("activity_attachments") is True,
            activity_properties=_texts(data.get("activity_properties")),
            search_columns=_texts(data.get("search_columns")),
        )


def _texts(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


@dataclass(frozen=True)
class SetUpCheck:
    """What the check found (a line per part, in the order asked) and learnt of the site."""

    lines: tuple[Line, ...]
    facts: SiteFacts

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def public(self) -> dict[str, Any]:
        """What an administrator is shown (the command line, the Options screen): no detail."""
        return {
            "ok": self.ok,
            "lines": [{"what": ln.what, "ok": ln.ok, "says": ln.says} for ln in self.lines],
        }

    def facts_to_store(self, stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """What to keep of the site after this check: what it learnt, when the site answered
        every part; else "nothing known" when what is kept was learnt at another address;
        else None, and what is kept stays (a site down for a moment forgets nothing)."""
        if self.facts.checked:
            return self.facts.to_json()
        if SiteFacts.from_json(stored).site != self.facts.site:
            return SiteFacts(site=self.facts.site).to_json()
        return None


class _Stop(Exception):
    """The site or the account failed in a way that every later part would meet too."""

    def __init__(self, line: Line) -> None:
        super().__init__(line.says)
        self.line = line


def check(client: ImisClient, *, cloud_id: str, activities: bool = True) -> SetUpCheck:
    """Check the site and the account of ``client`` (an organisation's background account).
    ``activities``: the organisation files Activities (not on the Professional edition), so
    the Activity and its files are checked too."""
    # One allowance of pausing (the caller's, else a person's) for the whole check, not one
    # per request; and a site that is down is waited for once: the check stops there.
    with patience.patient(patience.current()):
        return _Check(client, cloud_id, activities).run()


def _right(what: str, says: str, detail: str = "") -> Line:
    return Line(what, True, says, detail)


def _fix(what: str, says: str, detail: str = "") -> Line:
    return Line(what, False, says, detail)


class _Check:
    def __init__(self, client: ImisClient, cloud_id: str, activities: bool) -> None:
        self.client = client
        self.mapping = client.mapping
        self.activities = activities
        self.account = client.account
        self.set_it = f"mailfiler options set --cloud-id {cloud_id}"
        self.lines: list[Line] = []
        self.activity_properties: dict[str, str] = {}
        self.activity_files = False
        self.columns: dict[str, str] = {}

    def run(self) -> SetUpCheck:
        m = self.mapping
        # (entity, what it is for, the mapping setting that names it)
        entities = [
            (m.interaction_entity, "Interactions", "interaction_entity"),
            (
                m.interaction_attachment_entity,
                "Interactions' files",
                "interaction_attachment_entity",
            ),
            (m.activity_entity, "Activities", "activity_entity"),
            ("Person", "new contacts", ""),
        ]
        steps: list[Callable[[], Line]] = [self.token, self.roles]
        steps += [
            partial(self.entity, *entity)
            for entity in entities
            if self.activities or entity[2] != "activity_entity"
        ]
        steps.append(self.search)
        if self.activities:
            steps.append(self.files_on_an_activity)
        answered_all = True
        for step in steps:
            try:
                self.lines.append(step())
            except _Stop as stop:
                self.lines.append(stop.line)
                answered_all = False
                break
        facts = SiteFacts(
            site=self.client.site,
            checked=answered_all,
            activity_attachments=self.activity_files,
            activity_properties=self.activity_properties,
            search_columns=self.columns,
        )
        return SetUpCheck(tuple(self.lines), facts)

    # -- the parts ---------------------------------------------------------------------

    def token(self) -> Line:
        what = "background account"
        try:
            self.client.ready()
        except MailfilerError as error:
            raise _Stop(self.failed(what, error)) from error
        return _right(what, f"mailfiler signs in to iMIS at {self.client.site} as {self.account}")

    def roles(self) -> Line:
        what = "a user's roles"
        lookup = f"GET /api/User?UserName={self.account}"
        try:
            found = describe(self.client, self.account)
        except RolesUnread as error:
            says = (
                f"iMIS gives no roles for {self.account} (neither /api/User nor "
                "/api/UserSecurity): give the background account the right to read users and "
                "their roles in iMIS, or staff cannot be told what they may do"
            )
            return _fix(what, says, _detail(error))
        except SiteRefused as error:
            return self.refused(what, error, f"read users and their roles ({lookup})")
        except MailfilerError as error:
            return self.failed(what, error)
        if found is None:
            says = (
                f"iMIS finds no user {self.account} ({lookup}): give the background account "
                "the right to read users, or staff cannot sign in"
            )
            return _fix(what, says, f"{lookup} found no user of that name")
        roles = ", ".join(found[2]) or "none"
        says = f"iMIS gives the roles of {self.account} ({roles}), as it will each user's"
        return _right(what, f"{says} when they sign in")

    def entity(self, entity: str, purpose: str, setting: str) -> Line:
        what = f"{purpose} ({entity})"
        try:
            definition = self.client.get(f"/api/metadata/{entity}")
            listed = self.listed(entity) if definition is None else None
        except SiteRefused as error:
            group = " (the Communications security group)" if entity in COMMUNICATIONS else ""
            return self.refused(what, error, f"use {entity}{group}")
        except MailfilerError as error:
            return self.failed(what, error)
        if definition is None and listed is None:
            says = f"iMIS has no {entity} here, so mailfiler cannot write {purpose}"
            if setting:
                says += f"; if the site names it otherwise, set it: {self.set_it} imis.{setting}=…"
            return _fix(what, says, f"GET /api/metadata/{entity} and GET /api/{entity}: 404")
        if definition is None:
            return _right(what, f"iMIS has {entity}")
        if entity == self.mapping.activity_entity:
            self.activity_properties = _property_types(definition)
            count = len(self.activity_properties)
            return _right(what, f"iMIS describes {entity}, with {count} properties")
        return _right(what, f"iMIS describes {entity}")

    def listed(self, entity: str) -> Any:
        """A list read of at most one row, for a site whose metadata does not describe the
        entity: None when iMIS has no such resource."""
        try:
            return self.client.get(f"/api/{entity}", {"limit": 1})
        except SiteFailed as error:
            if error.status == 405:  # the resource is there, and takes no GET (a POST only)
                return {}
            raise

    def search(self) -> Line:
        what = "contact search"
        query = self.mapping.search_query
        if not query:
            says = (
                "no search query is set: give the IQA query staff search contacts with "
                f"({self.set_it} imis.search_query=…); it needs an ID, a full name and an "
                "Email column"
            )
            return _fix(what, says)
        does_not_exist = (
            f"the search query {query} does not exist in iMIS: set it with "
            f"{self.set_it} imis.search_query=…"
        )
        rows: list[dict[str, Any]] = []
        refusal: SiteRefused | None = None
        for probe in PROBES:
            try:
                answer = self.client.get(
                    "/api/iqa", {"QueryName": query, "parameter": probe, "limit": 1}
                )
            except SiteRefused as error:
                if "not found" in str(error).lower():  # iMIS: "Query: … not found."
                    return _fix(what, does_not_exist, _detail(error))
                refusal = error
                continue
            except MailfilerError as error:
                return self.failed(what, error)
            if answer is None:  # 404: no such query (or no IQA) at this site
                return _fix(what, does_not_exist, f"GET /api/iqa?QueryName={query}: 404")
            rows = [wire.properties(row) for row in wire.page(answer)[0] if isinstance(row, dict)]
            if rows:
                break
        if not rows and refusal is not None:
            return self.refused(what, refusal, f"run the search query {query}")
        if not rows:
            says = (
                f"the search query {query} runs, but found no contact to show its columns: "
                "check in iMIS that it returns an ID, a full name (FullName or Full Name) and "
                "a column whose name holds Email"
            )
            return _fix(what, says, f"no row for the values {PROBES!r}")
        names = list(rows[0])  # in the query's order: "the first Email column" is that
        found = {role: c for role, c in search_columns(names, self.mapping).items() if c in names}
        self.columns = found
        missing = [role for role in NEEDED_COLUMNS if role not in found]
        if missing:
            said = "; ".join(self.missing_column(role) for role in missing)
            return _fix(what, f"the search query {query} has {said}", f"its columns: {names}")
        shown = ", ".join(
            f"{role} {found[role]!r}" for role in (*NEEDED_COLUMNS, "organization") if role in found
        )
        says = f"the search query {query} runs, with its columns {shown}"
        return _right(what, f"{says}; staff run it with their own iMIS rights")

    def missing_column(self, role: str) -> str:
        setting = COLUMN_SETTINGS[role]
        named = getattr(self.mapping, setting)
        name_it = f"({self.set_it} imis.{setting}=…)"
        if named:
            return f"no column {named!r} (imis.{setting}): name one it has {name_it}"
        return f"no {NEEDED_COLUMNS[role]}: add one to the query in iMIS, or name it {name_it}"

    def files_on_an_activity(self) -> Line:
        what = "files on an Activity"
        try:
            # An empty body: refused by iMIS's validation (400) where the endpoint exists,
            # 404 where it does not; nothing can be written either way. Sent with ``ask``
            # (a POST that writes nothing), which keeps iMIS's status where a write hides it.
            answer = self.client.ask(ACTIVITY_FILES, {})
        except SiteRefused as error:
            if error.status != 400:
                return self.refused(
                    what, error, "add files to Activities (LegacyActivityAttachment)"
                )
            answer = error  # validation: the endpoint is there
        except SiteFailed as error:
            if error.status != 405:  # 405: something is there, and takes no POST
                return self.failed(what, error)
            answer = None
        except MailfilerError as error:
            return self.failed(what, error)
        if answer is None:
            says = (
                "this iMIS takes no files on an Activity (it has no LegacyActivityAttachment): "
                "staff are told so before they save, and such files are not saved"
            )
            return _right(what, says)
        self.activity_files = True
        taken = "iMIS takes files on an Activity (LegacyActivityAttachment)"
        return _right(what, taken, f"an empty body was answered: {str(answer)[:200]}")

    # -- what to fix ---------------------------------------------------------------------

    def refused(self, what: str, error: SiteRefused, needs: str) -> Line:
        """iMIS answered 400 or 403: the site works, and says no to the background account."""
        if error.status == 403:
            says = f"the background account {self.account} may not {needs}: give it that right"
            return _fix(what, f"{says} in iMIS", _detail(error))
        return _fix(what, f"iMIS refused to {needs}: {error}", _detail(error))

    def failed(self, what: str, error: MailfilerError) -> Line:
        """A failure of the site or the account, as the administrator's sentence. One that
        every later part would meet too stops the check."""
        site, account = self.client.site, self.account
        address = f"{self.set_it} --imis-url … --background-password-stdin"
        password = f"{self.set_it} --background-password-stdin"
        stops = True
        if isinstance(error, NotAnImisSite):
            says = (
                f"{site} answers, but not as an iMIS site: check the address, the site's own "
                f"such as https://acme.imiscloud.com, without /api ({address})"
            )
        elif isinstance(error, SiteBusy):
            says = f"the iMIS site at {site} is busy (it keeps answering 429): check again later"
        elif isinstance(error, SiteUnreachable):
            says = (
                f"mailfiler cannot reach the iMIS site at {site}: check that the address is "
                f"right and the site is up ({address})"
            )
        elif isinstance(error, TooManyRefused):
            says = (
                f"iMIS refused {MOST_REFUSED_PASSWORDS} passwords for the background account "
                f"{account} within an hour, so mailfiler tries no other for now: check the "
                f"password in iMIS, then set it again after the hour ({password})"
            )
        elif isinstance(error, BackgroundAccountRefused):
            says = (
                f"iMIS refused the background account {account}: set its password again "
                f"({password}), and check in iMIS that the account is enabled and its "
                "password has not expired"
            )
        elif isinstance(error, ConnectorUnavailable):
            # Said by the settings (no address or password set, a password set for another
            # address) or by iMIS failing (5xx): already a sentence for an administrator.
            says, stops = str(error), False
        elif isinstance(error, SystemFault):
            # The server's own keys (MAILFILER_SECRET_KEY): a server setting is not named
            # here; the log says which.
            says = (
                "mailfiler cannot read the stored background password on this server: the "
                "server's administrator must fix its set-up (its log says what)"
            )
        else:
            says, stops = str(error), False
        line = _fix(what, says, _detail(error))
        if stops and self.lines:  # the first part (the token) stops the check by itself
            raise _Stop(line)
        return line


def _detail(error: BaseException) -> str:
    """The error and what caused it, for the log."""
    said: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(said) < 3:
        said.append(f"{type(seen).__name__}: {seen}"[:300])
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(said)


def _property_types(definition: Any) -> dict[str, str]:
    """Property name -> type, from an entity's metadata (``Properties.$values`` of
    ``PropertyType…Data``): the type's name, with its length where it has one."""
    found: dict[str, str] = {}
    if not isinstance(definition, dict):
        return found
    for item in wire.values(definition.get("Properties")):
        if not isinstance(item, dict) or not item.get("Name"):
            continue
        takes = str(item.get("PropertyTypeName") or _contract_type(item.get("$type")))
        longest = wire.unwrap(item.get("MaxLength"))
        if isinstance(longest, int) and not isinstance(longest, bool) and longest > 0:
            takes = f"{takes}({longest})"
        found[str(item["Name"])] = takes
    return found


def _contract_type(type_name: Any) -> str:
    """ "String" from "Asi.Soa.Core.DataContracts.PropertyTypeStringData, Asi.Contracts"."""
    short = str(type_name or "").split(",")[0].rsplit(".", 1)[-1]
    return short.removeprefix("PropertyType").removesuffix("Data")
