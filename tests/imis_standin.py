"""A stand-in for an iMIS site's REST API, for the tests: strict about the documented wire format.

iMIS cannot run here. This ASGI app answers as ../shared/spec/imis-notes.md says iMIS does,
above all its last section "What ASI's own libraries show" (cited below as "notes L<line>"),
and refuses what iMIS would refuse. It is written from the notes alone, never from the
connector it tests, so the connector cannot pass by agreeing with itself.

Where the notes say "unknown", the stand-in takes the strict reading and offers a switch
(see ``StandIn``). Faults can be switched on too: a site that is slow, throttles, fails a
given write, drops connections, or refuses the background account's password.

The shapes of the answers, where the notes do not give them, come from: developer.imis.com
(the paged envelope with ``NextPageLink``, the filter operators), ASI's DataMigrationService
(``QueryExtensions.cs``: the filter grammar; ``CommonServiceHttpClient.cs``: an ``_execute``
answer is a serialised ``ServiceResponse`` with ``Result``), and public iMIS client code
(``EntityUpdateInformationData``, ``RoleData``'s namespace, ``AddressPurposeData``, the
metadata ``PropertyType...Data`` contracts). Every other choice is marked "choice:".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _asi(name: str) -> str:
    return f"{name}, Asi.Contracts"


# -- type names ------------------------------------------------------------------------------

T_ENTITY = _asi("Asi.Soa.Core.DataContracts.GenericEntityData")  # notes L55-61
T_PROPERTIES = _asi("Asi.Soa.Core.DataContracts.GenericPropertyDataCollection")  # L58
T_PROPERTY = _asi("Asi.Soa.Core.DataContracts.GenericPropertyData")  # L60
T_IDENTITY = _asi("Asi.Soa.Core.DataContracts.IdentityData")  # L62-63 (type name: client code)
T_RECIPIENT = _asi("Asi.Soa.Communications.DataContracts.CommunicationLogRecipientData")  # L153
T_PARTY_REF = _asi("Asi.Soa.Membership.DataContracts.PartyReferenceData")  # L156
T_LOG = _asi("Asi.Soa.Communications.DataContracts.CommunicationLogData")  # L160
T_FILES = _asi(
    "Asi.Soa.Communications.DataContracts.CommunicationLogRecipientAttachmentDataCollection"
)  # L162
T_FILE = _asi("Asi.Soa.Communications.DataContracts.CommunicationLogRecipientAttachmentData")
T_BYTES = "System.Byte[], mscorlib"  # L107, L165, L183
T_DECIMAL = "System.Decimal"  # L109, L231
T_INT32 = "System.Int32"  # L62
T_BOOLEAN = "System.Boolean"  # L109
T_PERSON = _asi("Asi.Soa.Membership.DataContracts.PersonData")  # L100-105
T_PERSON_NAME = _asi("Asi.Soa.Membership.DataContracts.PersonNameData")  # L103
T_EMAIL = _asi("Asi.Soa.Membership.DataContracts.EmailData")  # L54
T_EMAILS = _asi("Asi.Soa.Membership.DataContracts.EmailDataCollection")  # L53
T_ORG = _asi("Asi.Soa.Membership.DataContracts.PrimaryOrganizationInformationData")  # L102
T_FIND_BY_EMAIL = _asi("Asi.Soa.Membership.DataContracts.PartyFindByEmailRequest")  # L204
T_PARTIES = _asi("Asi.Soa.Membership.DataContracts.PartyDataCollection")  # choice
T_SERVICE_RESPONSE = _asi(f"Asi.Soa.Core.DataContracts.ServiceResponse`1[[{T_PARTIES}]]")
T_USER = _asi("Asi.Soa.Membership.DataContracts.UserData")  # L220; namespace: client code
T_USER_SECURITY = _asi("Asi.Soa.Membership.DataContracts.User.UserSecurityData")  # L222
T_ROLE = _asi("Asi.Soa.Membership.DataContracts.User.RoleData")  # L223; namespace: client code
T_ROLES = _asi("Asi.Soa.Membership.DataContracts.User.RoleDataCollection")  # choice
T_ADDRESS_PURPOSE = _asi("Asi.Soa.Membership.DataContracts.AddressPurposeData")  # L226
T_ACTIVITY_TYPE = _asi("Asi.Soa.Core.DataContracts.LegacyActivityTypeData")  # L114-116
T_UPDATE_INFO = _asi("Asi.Soa.Core.DataContracts.EntityUpdateInformationData")  # L193
T_VALIDATION = _asi("Asi.Soa.Core.DataContracts.ValidationResultsData")  # L243-245
T_VALIDATION_LIST = _asi("Asi.Soa.Core.DataContracts.ValidationResultDataCollection")
T_VALIDATION_ITEM = _asi("Asi.Soa.Core.DataContracts.ValidationResultData")
T_PAGED = _asi("Asi.Soa.Core.DataContracts.PagedResult")  # L44-46, L134-136
T_OBJECTS = "System.Collections.Generic.List`1[[System.Object, mscorlib]], mscorlib"
T_STRINGS = "System.Collections.ObjectModel.Collection`1[[System.String, mscorlib]], mscorlib"
T_ENTITY_DEFINITION = _asi("Asi.Soa.Core.DataContracts.EntityDefinitionData")
T_BO_DEFINITION = _asi("Asi.Soa.Core.DataContracts.BOEntityDefinitionData")
T_PROPERTY_TYPES = _asi("Asi.Soa.Core.DataContracts.PropertyTypeDataCollection")
# LegacyActivityAttachmentData's namespace is not in the notes (L237-240): any Asi.Soa.*
# namespace is taken, and so is a body without $type (the endpoint's slot is typed).
LEGACY_ACTIVITY_FILE = re.compile(
    r"Asi\.Soa\.\w+\.DataContracts\.LegacyActivityAttachmentData, Asi\.Contracts"
)

# -- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One property of a contract: how its value travels, its limit, whether it is required.

    kinds: String (plain, max_length), Text (plain, no limit), Int (plain integer, typed
    contracts), Bool, Guid, Id (string or integer), Date (plain ``YYYY-MM-DDTHH:MM:SS``),
    Decimal (``{"$type": "System.Decimal", "$value": n}``), Bytes (``System.Byte[]`` wrapper,
    an ``object`` slot), Base64 (plain base64, a ``byte[]`` slot), Object (checked by its
    handler).
    """

    kind: str
    max_length: int | None = None
    required: bool = False
    choices: range | None = None


# CommunicationLogRecipientData: notes L152-168; Address nvarchar(100) L177-178; MessageType an
# integer enum 0..3 L173.
RECIPIENT = {
    "Party": Column("Object", required=True),  # L156-157
    "Address": Column("String", 100, required=True),  # L158, L177; required: choice (strict)
    "MessageType": Column("Int", choices=range(4)),  # L159, L173
    "CommunicationLog": Column("Object", required=True),  # L160-161
    "Attachments": Column("Object"),  # L162-165
}
# PartyReferenceData: L156-157, L171-172 (UniformId the party's GUID).
PARTY_REFERENCE = {
    "PartyId": Column("String", required=True),
    "Id": Column("String"),
    "UniformId": Column("Guid"),
}
# CommunicationLogData: Subject nvarchar(500) L176, Html/Text nvarchar(max) L176-177, Status an
# integer enum 0..4 L174-175, CommunicationLogId an existing log's key L188-189.
LOG = {
    "CommunicationLogId": Column("Guid"),
    "Subject": Column("String", 500, required=True),
    "Html": Column("Text"),
    "Text": Column("Text"),
    "Status": Column("Int", choices=range(5)),
}
# CommunicationLogRecipientAttachmentData: Name nvarchar(50) NOT NULL L179, the byte wrapper
# required L183-184, empty files never written L78-79.
FILE = {"Name": Column("String", 50, required=True), "Attachment": Column("Bytes", required=True)}
FILE_ALONE = {"CommunicationLogRecipientId": Column("Guid", required=True), **FILE}  # L181-183
# PersonData: L100-105, L225-227 (the names' and the organisation's lengths are not in the
# notes: not checked).
PERSON = {
    "PersonName": Column("Object", required=True),
    "Email": Column("String"),
    "Emails": Column("Object"),
    "PrimaryOrganization": Column("Object"),
}
NAME_PARTS = ("FirstName", "LastName", "MiddleName", "NamePrefix", "NameSuffix", "FullName")
PERSON_NAME = {name: Column("String") for name in (*NAME_PARTS, "InformalName", "Designation")}
EMAIL = {
    "Address": Column("String", required=True),
    "EmailType": Column("String", required=True),
    "IsPrimary": Column("Bool"),
}
ORGANIZATION = {
    "IsEmpty": Column("Bool"),
    "Name": Column("String"),
    "OrganizationPartyId": Column("String"),
    "Title": Column("String"),
}
# PartyFindByEmailRequest: L203-205.
FIND_BY_EMAIL = {
    "EntityTypeName": Column("String", required=True),
    "OperationName": Column("String", required=True),
    "Email": Column("String", required=True),
}
# LegacyActivityAttachmentData: L237-240. FileName's limit is not known for Activity_Attach:
# choice, the product's 50 (L78).
ACTIVITY_FILE = {
    "ActivityId": Column("Id", required=True),
    "FileName": Column("String", 50, required=True),
    "Attachment": Column("Base64", required=True),
}
# The Activity table as a generic entity: L64-66, L111-113 (ACTIVITY_TYPE and PartyId
# required), L229-236 (types and lengths). Any other property is refused.
ACTIVITY = {
    "ACTIVITY_TYPE": Column("String", 10, required=True),  # L229, L234
    "PartyId": Column("String", required=True),  # L64, L112
    "TRANSACTION_DATE": Column("Date"),  # L65
    "DESCRIPTION": Column("String", 255),  # L229
    "SOURCE_CODE": Column("String", 40),  # L230
    "NOTE": Column("Text"),  # L230
    "NOTE_2": Column("Text"),  # L230
    **{f"UF_{n}": Column("String", 255) for n in (1, 2, 3)},  # L230
    **{f"UF_{n}": Column("Decimal") for n in (4, 5)},  # L231
    **{f"UF_{n}": Column("Date") for n in (6, 7)},  # L231
}
GENERIC_KEYS = {
    "$type",
    "EntityTypeName",
    "PrimaryParentEntityTypeName",
    "PrimaryParentIdentity",
    "Properties",
}  # L55-60
# System activity types, never writable from the add-in: L234-236 (and L41-42).
SYSTEM_ACTIVITY_TYPES = {
    "DUES",
    "ORDER",
    "SALES",
    "MEETING",
    "CERTIFICAT",
    "CERTIFY",
    "DONORCLUB",
    "EXPO",
    "REFUND",
}
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")  # L65
IQA_FOLDER = "$/Web Service Queries/"  # L211-212
DEFAULT_LIMIT, MAX_LIMIT = 100, 500  # L200
RESERVED = {"offset", "limit", "orderby"}  # L199: reserved in any case
# Operator heads, as developer.imis.com "Advanced query operations" lists them; a value whose
# head is none of these is Equal to the whole value (L197-198).
OPERATORS = {
    **dict.fromkeys(("Between", "between"), "Between"),
    **dict.fromkeys(("Contains", "contains"), "Contains"),
    **dict.fromkeys(("EndsWith", "endsWith"), "EndsWith"),
    **dict.fromkeys(("Equal", "eq", "=="), "Equal"),
    **dict.fromkeys(("GreaterThan", "gt", ">"), "GreaterThan"),
    **dict.fromkeys(("GreaterThanOrEqual", "ge", ">="), "GreaterThanOrEqual"),
    **dict.fromkeys(("In", "in"), "In"),
    **dict.fromkeys(("IsEmpty", "isEmpty", "empty"), "IsEmpty"),
    **dict.fromkeys(("IsFalse", "isFalse", "false"), "IsFalse"),
    **dict.fromkeys(("IsTrue", "isTrue", "true"), "IsTrue"),
    **dict.fromkeys(("LessThan", "lt", "<"), "LessThan"),
    **dict.fromkeys(("LessThanOrEqual", "le", "<="), "LessThanOrEqual"),
    **dict.fromkeys(("NotContain", "notContain", "!contain"), "NotContain"),
    **dict.fromkeys(("NotEmpty", "notEmpty", "!empty"), "NotEmpty"),
    **dict.fromkeys(("NotEqual", "ne", "!="), "NotEqual"),
    **dict.fromkeys(("StartsWith", "startsWith"), "StartsWith"),
}
IQA_NOT_EQUAL = "In IQA query, parameters must be Parameter Equal"  # L210
# What GET /api/metadata/<Entity> describes (L232). Object-valued properties are left out.
METADATA: dict[str, dict[str, Column]] = {
    "Activity": {"SEQN": Column("Int"), **ACTIVITY},
    "CommunicationLog": LOG,
    "CommunicationLogRecipient": {"CommunicationLogRecipientId": Column("Guid"), **RECIPIENT},
    "CommunicationLogRecipientAttachment": FILE_ALONE,
    "LegacyActivityAttachment": ACTIVITY_FILE,
    "Party": {"PartyId": Column("String"), "UniformId": Column("Guid"), **PERSON},
    "Person": {"PartyId": Column("String"), "UniformId": Column("Guid"), **PERSON},
}
PARTY_GUIDS = uuid.UUID("6b1c3f52-9d5e-4c0a-8f0e-3c7f1a2b9d41")  # seeds the stand-in's GUIDs
SEEDED_EMAIL_TYPES = ("_Primary", "Work", "Home")  # a seeded party's addresses, in order


# -- the site's records --------------------------------------------------------------------------


class Refusal(Exception):
    """An answer other than success: 400s carry a ValidationResultsData, others a Message."""

    def __init__(self, status: int, message: str, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.value = value


def _invalid(field: str, message: str, value: Any = None) -> Refusal:
    return Refusal(400, message, field, value)


@dataclass
class Party:
    """A person in iMIS. ``emails[0]`` is the primary address; ``email_types`` the purpose of
    each address (``_Primary``, then the site's address purposes)."""

    id: str
    name: str
    emails: list[str]
    organization: str = ""
    uniform_id: str = ""  # the party's GUID key (L171); derived from the id when not given
    email_types: list[str] = field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None

    def __post_init__(self) -> None:
        if not self.uniform_id:
            self.uniform_id = str(uuid.uuid5(PARTY_GUIDS, f"party:{self.id}"))
        types = list(self.email_types)
        while len(types) < len(self.emails):
            n = len(types)
            types.append(SEEDED_EMAIL_TYPES[n] if n < len(SEEDED_EMAIL_TYPES) else f"Email{n}")
        self.email_types = types

    @property
    def primary(self) -> str:
        return self.emails[0] if self.emails else ""

    def names(self) -> tuple[str, str]:
        first, _, last = self.name.rpartition(" ")
        return (
            self.first_name if self.first_name is not None else first,
            self.last_name if self.last_name is not None else last,
        )


@dataclass
class User:
    password: str
    roles: list[str]
    party_id: str = ""
    email: str = ""


@dataclass
class IqaQuery:
    """An IQA query of the site: its columns (display name -> value of a party), the query's
    own filter over the prompts' values, and how many prompts it has (L208-214)."""

    columns: dict[str, Callable[[Party], Any]]
    matches: Callable[[Party, list[str]], bool]
    prompts: int = 1


def contact_search(
    id_column: str = "ID", name_column: str = "Full Name", email_column: str = "Email Address"
) -> IqaQuery:
    """A contact search as ASI's Outlook Integration guide asks for one (L213-214): an ID, a
    full name and an Email column; its own filter is Contains over the name and every address
    (an empty prompt matches everyone, as an optional IQA prompt does)."""

    def matches(party: Party, parameters: list[str]) -> bool:
        text = (parameters[0] if parameters else "").lower()
        return text in party.name.lower() or any(text in e.lower() for e in party.emails)

    columns = {
        id_column: lambda p: p.id,
        name_column: lambda p: p.name,
        email_column: lambda p: p.primary,
    }
    return IqaQuery(columns, matches)


USER_FIELDS: dict[str, Callable[[tuple[str, User]], list[str]]] = {
    "UserName": lambda u: [u[0]],
    "UserId": lambda u: [u[1].party_id or u[0]],
}


def _site_now() -> datetime:
    return datetime.now()


@dataclass
class StandIn:
    """The site's state, its switches, what it was asked, and its faults."""

    parties: dict[str, Party] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # by user name (any case)
    activity_types: list[dict[str, Any]] = field(default_factory=list)  # LegacyActivityTypeData
    queries: dict[str, IqaQuery] = field(default_factory=dict)  # by full IQA path
    address_purposes: list[str] = field(default_factory=lambda: list(SEEDED_EMAIL_TYPES))
    edition: str = "enterprise"  # "professional" refuses Activities (L80-82)
    token_lifetime: int = 1200
    background_account: str = "MANAGER"
    clock: Callable[[], datetime] = _site_now  # the site's time of a write (L186)
    # -- switches: where the notes say "unknown", the strict reading is the default ------------
    email_filter_primary_only: bool = True  # Party?email= sees only the primary address (L202)
    uniform_id_required: bool = True  # a recipient's Party needs the party's UniformId (L190)
    nested_log_created: bool = True  # off: a nested CommunicationLog needs an existing ID (L188)
    user_roles_null: bool = True  # UserData.Roles null, as reported for EMS (L221)
    activity_metadata: bool = True  # off: GET /api/metadata/Activity answers 404 (L232)
    activity_attachments: bool = False  # on: POST /api/LegacyActivityAttachment exists (L240)
    metadata_entities: set[str] = field(default_factory=lambda: set(METADATA))
    activity_fields_need_prompt: bool = True  # UF_n only where the type has a prompt (L233)
    iqa_eq_prefix_refused: bool = True  # off: an IQA parameter "eq:x" is read as Equal x
    limit_over_max: str = "cap"  # a limit over 500: "cap" (answer Limit 500) or "refuse"
    # users whose password /token takes but whom /api/User does not list to the background
    # account (an account without the right to read them): a fault to inject
    unlisted_users: set[str] = field(default_factory=set)
    # -- what was written, as iMIS would hold it ---------------------------------------------
    activities: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    activity_files: list[dict[str, Any]] = field(default_factory=list)
    # -- what was asked ----------------------------------------------------------------------
    token_requests: list[str] = field(default_factory=list)
    searches: list[tuple[str, str]] = field(default_factory=list)  # (user, first parameter)
    iqa_runs: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (user, path, params)
    pages: list[tuple[str, int, int]] = field(default_factory=list)  # (path, offset, limit)
    writers: list[str] = field(default_factory=list)  # the user behind each write
    # -- faults ------------------------------------------------------------------------------
    slow_seconds: float = 0.0
    slow_writes: float = 0.0  # seconds a write takes before it is done and answered
    # A write that begins while ``hold_writes`` is True waits until ``release_writes``: a
    # write in flight for as long as a test needs, however slow the machine; writes that
    # begin after ``hold_writes`` is False again are not held.
    hold_writes: bool = False
    release_writes: bool = False
    throttle_next: int = 0  # this many requests answered 429 (with Retry-After: 1)
    fail_next_reads: int = 0  # this many reads answered 500
    fail_writes: set[int] = field(default_factory=set)  # these writes (1, 2, ...) answer 500
    # a proxy in front of the site: the next write is done, and the proxy answers this status
    # (504: it gave up waiting; 502: no proper answer) instead of the site's answer
    gateway_after_next_write: int = 0
    background_refused: bool = False  # the background account's password no longer works
    writes: int = 0
    # ``faults_on``: (path, n) -> the faults met, one request each, by the nth request to that
    # path (counted from 1, every try counts) and the ones after it: "429" (no Retry-After),
    # "429:SECONDS" (with one), "reset" (the connection is dropped half-way through the
    # answer). ``reset_next``: this many requests, whatever the path, dropped.
    # ``requests``: (method, path) of every API request that reached the site.
    faults_on: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    reset_next: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    _asked: dict[str, int] = field(default_factory=dict)
    _due: dict[str, list[str]] = field(default_factory=dict)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(5001))

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(
            routes=[Route("/{path:path}", self._dispatch, methods=methods)],
            exception_handlers={Refusal: _refusal, Fault: _fault},  # type: ignore[dict-item]
        )
        app.state.standin = self
        return app

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as after its lifetime)."""
        self._tokens.clear()

    # -- routing: paths are case-insensitive (L91) ------------------------------------------

    ROUTES = (
        # (method, path, handler, the switch that must be on for the path to exist)
        ("POST", "token", "token", None),
        ("GET", "api/party", "find_parties", None),
        ("POST", "api/party/_execute", "execute_party", None),
        ("GET", "api/party/{id}", "one_party", None),
        ("GET", "api/person/{id}", "one_party", None),
        ("POST", "api/person", "create_person", None),
        ("GET", "api/iqa", "iqa", None),
        ("GET", "api/user", "find_users", None),
        ("GET", "api/usersecurity", "find_user_security", None),
        ("GET", "api/addresspurpose", "list_address_purposes", None),
        ("GET", "api/legacyactivitytype", "list_activity_types", None),
        ("GET", "api/activity", "list_activities", None),
        ("POST", "api/activity", "create_activity", None),
        ("POST", "api/legacyactivityattachment", "create_activity_file", "activity_attachments"),
        ("GET", "api/communicationlogrecipient", "list_interactions", None),
        ("POST", "api/communicationlogrecipient", "create_interaction", None),
        ("POST", "api/communicationlogrecipientattachment", "create_attachment", None),
        ("GET", "api/metadata/{entity}", "metadata", None),
    )

    async def _dispatch(self, request: Request) -> Response:
        segments = [s for s in request.url.path.split("/") if s]
        allowed: list[str] = []
        for method, pattern, handler, switch in self.ROUTES:
            if switch is not None and not getattr(self, switch):
                continue
            params = _match(pattern, segments)
            if params is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            request.scope["path_params"] = params
            answer: Response = await getattr(self, handler)(request)
            if (
                request.method == "POST"
                and self.gateway_after_next_write
                and answer.status_code < 300
            ):
                status, self.gateway_after_next_write = self.gateway_after_next_write, 0
                return JSONResponse(
                    {"Message": "The gateway did not get an answer in time."}, status
                )
            return answer
        if allowed:
            message = f"The requested resource does not support http method '{request.method}'."
            raise Refusal(405, message)
        raise Refusal(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )

    # -- sign-in (L33-36, L91-94, L246) -------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        self.token_requests.append(name)
        user = self._user(name)
        refused = self.background_refused and name.lower() == self.background_account.lower()
        if user is None or user[1].password != password or refused:
            wrong = "The user name or password is incorrect."
            return JSONResponse(
                {"error": "invalid_grant", "error_description": wrong}, status_code=400
            )
        token = secrets.token_urlsafe(16)
        self._tokens[token] = (name.lower(), time.monotonic() + self.token_lifetime)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "userName": name,
            },
        )

    def _user(self, name: str) -> tuple[str, User] | None:
        for key, user in self.users.items():
            if key.lower() == name.lower():
                return key, user
        return None

    def _faults(self, request: Request) -> None:
        path = request.url.path
        self.requests.append((request.method, path))
        self._asked[path] = self._asked.get(path, 0) + 1
        self._due.setdefault(path, []).extend(self.faults_on.pop((path, self._asked[path]), []))
        fault = self._due[path].pop(0) if self._due[path] else None
        if fault is None and self.reset_next > 0:
            self.reset_next -= 1
            fault = "reset"
        if fault == "reset":
            raise Fault(_Dropped())
        if fault is not None:
            _, _, wait = fault.partition(":")
            headers = {"Retry-After": wait} if wait else None
            raise Fault(JSONResponse({"Message": "Too many requests"}, 429, headers=headers))

    async def _caller(self, request: Request, read: bool) -> str:
        """The faults, then the bearer token (L31-32): the caller's user name."""
        self._faults(request)
        if self.fail_next_reads > 0 and read:
            self.fail_next_reads -= 1
            raise Refusal(500, "An error has occurred.")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            raise Refusal(429, "Too many requests")
        if self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.monotonic():
            raise Refusal(401, "Authorization has been denied for this request.")
        return found[0]

    async def _write(self, request: Request) -> tuple[str, dict[str, Any]]:
        writer = await self._caller(request, read=False)
        self.writes += 1
        if self.writes in self.fail_writes:
            raise Refusal(500, "An error has occurred.")
        self.writers.append(writer)
        held = self.hold_writes
        body = await _json_body(request)
        if self.slow_writes:
            await asyncio.sleep(self.slow_writes)
        while held and not self.release_writes:
            await asyncio.sleep(0.05)
        return writer, body

    # -- lists: filters, order and pages (L196-200) ---------------------------------------------

    def _find(
        self,
        request: Request,
        items: Iterable[Any],
        fields: Mapping[str, Callable[[Any], list[str]]],
        render: Callable[[Any], Any],
    ) -> Response:
        chosen = list(items)
        known = {name.lower(): (name, read) for name, read in fields.items()}
        for key, value in _args(request):
            if key.lower() in RESERVED:
                continue
            if key.lower() not in known:
                raise _invalid(key, f"{key} is not a property that can be filtered on here.")
            read = known[key.lower()][1]
            operation, values = _filter(value)
            chosen = [item for item in chosen if _test(operation, values, read(item))]
        chosen = _ordered(request, chosen, known)
        return self._paged(request, [render(item) for item in chosen])

    def _paged(self, request: Request, items: list[Any]) -> Response:
        reserved = {k.lower(): v for k, v in _args(request) if k.lower() in RESERVED}
        offset = max(_int_or_zero(reserved.get("offset", "")), 0)
        limit = _int_or_zero(reserved.get("limit", "")) or DEFAULT_LIMIT
        if limit < 0:
            limit = DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            if self.limit_over_max == "refuse":
                raise _invalid("limit", f"limit is at most {MAX_LIMIT}.", limit)
            limit = MAX_LIMIT
        self.pages.append((request.url.path, offset, limit))
        page = items[offset : offset + limit]
        more = offset + len(page) < len(items)
        return JSONResponse(
            {
                "$type": T_PAGED,
                "Items": {"$type": T_OBJECTS, "$values": page},
                "Offset": offset,
                "Limit": limit,
                "Count": len(page),
                "TotalCount": len(items),
                "NextPageLink": None,
                "HasNext": more,
                "NextOffset": offset + len(page) if more else 0,
            },
        )

    # -- parties (L100-105, L201-205, L225-227) ---------------------------------------------------

    def _party_fields(self) -> dict[str, Callable[[Party], list[str]]]:
        return {
            "Email": (lambda p: [p.primary])
            if self.email_filter_primary_only
            else (lambda p: list(p.emails)),
            "PartyId": lambda p: [p.id],
            "Id": lambda p: [p.id],
            "UniformId": lambda p: [p.uniform_id],
            "Name": lambda p: [p.name],
            "FirstName": lambda p: [p.names()[0]],
            "LastName": lambda p: [p.names()[1]],
        }

    async def find_parties(self, request: Request) -> Response:
        await self._caller(request, read=True)
        return self._find(request, self.parties.values(), self._party_fields(), _person)

    async def one_party(self, request: Request) -> Response:
        await self._caller(request, read=True)
        party = self.parties.get(request.path_params["id"])
        if party is None:
            raise Refusal(404, f"No party has the id {request.path_params['id']}.")
        return JSONResponse(_person(party))

    async def execute_party(self, request: Request) -> Response:
        await self._caller(request, read=True)
        body = _shape(await _json_body(request), T_FIND_BY_EMAIL, FIND_BY_EMAIL, "request")
        if body["EntityTypeName"] != "Party":
            raise _invalid(
                "EntityTypeName", "EntityTypeName must be Party here.", body["EntityTypeName"]
            )
        if body["OperationName"] != "FindByEmail":
            message = f"Party has no operation {body['OperationName']}."
            raise _invalid("OperationName", message, body["OperationName"])
        wanted = body["Email"].lower()
        found = [p for p in self.parties.values() if wanted in (e.lower() for e in p.emails)]
        return JSONResponse(
            {
                "$type": T_SERVICE_RESPONSE,
                "IsSuccessStatusCode": True,
                "Result": {"$type": T_PARTIES, "$values": [_person(p) for p in found]},
            },
        )

    async def create_person(self, request: Request) -> Response:
        _, body = await self._write(request)
        _shape(body, T_PERSON, PERSON, "PersonData")
        name = _shape(body["PersonName"], T_PERSON_NAME, PERSON_NAME, "PersonName")
        first, last = name.get("FirstName") or "", name.get("LastName") or ""
        if not (first or last):
            raise _invalid("LastName", "A person needs a FirstName or a LastName.")
        addresses, types = self._new_emails(body.get("Emails"))
        if body.get("Email") and (not addresses or body["Email"].lower() != addresses[0].lower()):
            raise _invalid("Email", "Email must be the _Primary address of Emails.", body["Email"])
        organization = ""
        if body.get("PrimaryOrganization") is not None:
            org = _shape(body["PrimaryOrganization"], T_ORG, ORGANIZATION, "PrimaryOrganization")
            organization = org.get("Name") or ""
        full = " ".join(part for part in (first, last) if part)
        party = Party(
            str(next(self._ids)),
            full,
            addresses,
            organization,
            email_types=types,
            first_name=first,
            last_name=last,
        )
        self.parties[party.id] = party
        return JSONResponse(_person(party), status_code=201)

    def _new_emails(self, value: Any) -> tuple[list[str], list[str]]:
        """The first address ``_Primary`` with IsPrimary true; each further one an address
        purpose of the site, used once, not primary (L225-226)."""
        addresses: list[str] = []
        types: list[str] = []
        for n, item in enumerate(_collection(value, T_EMAILS, "Emails")):
            email = _shape(item, T_EMAIL, EMAIL, "EmailData")
            kind, primary = email["EmailType"], email.get("IsPrimary") is True
            if n == 0 and (kind != "_Primary" or not primary):
                message = "The first address must have EmailType _Primary and IsPrimary true."
                raise _invalid("EmailType", message, kind)
            if n > 0 and (kind not in self.address_purposes or kind == "_Primary" or primary):
                message = (
                    f"EmailType {kind} is not an address purpose of this site for a "
                    f"further address: use one of {', '.join(self.address_purposes[1:])}."
                )
                raise _invalid("EmailType", message, kind)
            if kind in types:
                raise _invalid("EmailType", f"Two addresses have the EmailType {kind}.", kind)
            addresses.append(email["Address"])
            types.append(kind)
        return addresses, types

    # -- IQA search (L207-216) ---------------------------------------------------------------

    async def iqa(self, request: Request) -> Response:
        user = await self._caller(request, read=True)
        args = _args(request)
        if not args or args[0][0].lower() != "queryname":
            raise _invalid("QueryName", "QueryName must be the first parameter of the request.")
        name = args[0][1]
        path = name if "/" in name else IQA_FOLDER + name
        query = next((q for p, q in self.queries.items() if p.lower() == path.lower()), None)
        if query is None:
            raise _invalid("QueryName", f"Query: {name} not found.", name)
        parameters = [
            self._iqa_parameter(key, value)
            for key, value in args[1:]
            if key.lower() not in RESERVED
        ]
        if len(parameters) > query.prompts:
            message = f"The query {path} has {query.prompts} prompt(s), not {len(parameters)}."
            raise _invalid("parameter", message)
        self.searches.append((user, parameters[0] if parameters else ""))
        self.iqa_runs.append((user, path, parameters))
        rows = [p for p in self.parties.values() if query.matches(p, parameters)]
        entity = path.rsplit("/", 1)[-1]
        return self._paged(request, [_iqa_row(entity, query, p) for p in rows])

    def _iqa_parameter(self, key: str, value: str) -> str:
        if key.lower() != "parameter":
            raise _invalid(key, f"{key} is not a parameter of /api/iqa.", value)
        head, sep, _ = value.split("|")[0].partition(":")
        if sep and head in OPERATORS:
            if OPERATORS[head] != "Equal" or self.iqa_eq_prefix_refused:
                raise _invalid("parameter", IQA_NOT_EQUAL, value)
            return value[len(head) + 1 :]
        return value

    # -- users and roles (L220-223) --------------------------------------------------------------

    async def find_users(self, request: Request) -> Response:
        await self._caller(request, read=True)
        listed = [(k, u) for k, u in self.users.items() if k.lower() not in self.unlisted_users]
        return self._find(request, listed, USER_FIELDS, self._user_data)

    def _user_data(self, entry: tuple[str, User]) -> dict[str, Any]:
        key, user = entry
        roles = None if self.user_roles_null else {"$type": T_STRINGS, "$values": list(user.roles)}
        data: dict[str, Any] = {"$type": T_USER, "UserId": user.party_id or key, "UserName": key}
        if user.party_id:
            data["Party"] = self._party_reference(user.party_id)
        data["Roles"] = roles  # kept when null: "Roles always null" is what EMS was seen to do
        return data

    def _party_reference(self, party_id: str) -> dict[str, Any]:
        party = self.parties.get(party_id) or Party(party_id, "", [])
        return {
            "$type": T_PARTY_REF,
            "PartyId": party.id,
            "Id": party.id,
            "UniformId": party.uniform_id,
        }

    async def find_user_security(self, request: Request) -> Response:
        await self._caller(request, read=True)
        listed = [(k, u) for k, u in self.users.items() if k.lower() not in self.unlisted_users]
        return self._find(request, listed, USER_FIELDS, _user_security)

    async def list_address_purposes(self, request: Request) -> Response:
        await self._caller(request, read=True)
        fields = {"Name": lambda name: [name]}
        return self._find(request, self.address_purposes, fields, _address_purpose)

    # -- activities (L64-69, L111-116, L229-240) ---------------------------------------------------

    async def list_activity_types(self, request: Request) -> Response:
        await self._caller(request, read=True)
        fields = {"ActivityTypeId": lambda t: [t.get("ActivityTypeId", "")]}
        return self._find(
            request, self.activity_types, fields, lambda t: {"$type": T_ACTIVITY_TYPE, **t}
        )

    async def create_activity(self, request: Request) -> Response:
        _, body = await self._write(request)
        if self.edition != "enterprise":
            raise Refusal(403, "This edition of iMIS does not take Activities.")
        values = _generic(body, "Activity", ACTIVITY)
        self._check_activity(values)
        record = {"SEQN": str(next(self._ids)), **values}
        self.activities.append(record)
        return JSONResponse(_activity_entity(record), status_code=201)

    def _check_activity(self, values: dict[str, Any]) -> None:
        code = values["ACTIVITY_TYPE"]
        if code.upper() in SYSTEM_ACTIVITY_TYPES:
            raise _invalid("ACTIVITY_TYPE", f"{code} is a system activity type.", code)
        kind = next((t for t in self.activity_types if t.get("ActivityTypeId") == code), None)
        if kind is None:
            raise _invalid("ACTIVITY_TYPE", f"{code} is not an activity type of this site.", code)
        for name in values:
            if (
                name.startswith("UF_")
                and self.activity_fields_need_prompt
                and not kind.get(f"Uf{name[3:]}Prompt")
            ):
                raise _invalid(
                    name, f"Activity type {code} has no prompt for {name}.", values[name]
                )
        if values["PartyId"] not in self.parties:
            raise _invalid(
                "PartyId", f"No party has the id {values['PartyId']}.", values["PartyId"]
            )

    async def list_activities(self, request: Request) -> Response:
        await self._caller(request, read=True)
        fields = {name: _column_reader(name) for name in ("SEQN", *ACTIVITY)}
        return self._find(request, self.activities, fields, _activity_entity)

    async def create_activity_file(self, request: Request) -> Response:
        _, body = await self._write(request)
        if self.edition != "enterprise":
            raise Refusal(403, "This edition of iMIS does not take Activities.")
        given = body.get("$type")
        if given is not None and not (
            isinstance(given, str) and LEGACY_ACTIVITY_FILE.fullmatch(given)
        ):
            raise _invalid("$type", "The body must be a LegacyActivityAttachmentData.", given)
        _shape(body, given, ACTIVITY_FILE, "LegacyActivityAttachmentData")
        activity_id = str(body["ActivityId"])
        if not any(a["SEQN"] == activity_id for a in self.activities):
            raise _invalid(
                "ActivityId", f"No activity has the sequence number {activity_id}.", activity_id
            )
        record = {
            "ActivityId": activity_id,
            "FileName": body["FileName"],
            "Attachment": base64.b64decode(body["Attachment"]),
        }
        self.activity_files.append(record)
        return JSONResponse(body, status_code=201)

    # -- interactions (L151-194) -------------------------------------------------------------------

    async def create_interaction(self, request: Request) -> Response:
        writer, body = await self._write(request)
        _shape(body, T_RECIPIENT, RECIPIENT, "CommunicationLogRecipientData")
        party = self._recipient_party(body["Party"])
        log = _shape(body["CommunicationLog"], T_LOG, LOG, "CommunicationLog")
        files = [
            self._nested_file(item)
            for item in _collection(body.get("Attachments"), T_FILES, "Attachments")
        ]
        moment = _net_date(self.clock())
        entry = {
            "Id": str(uuid.uuid4()),
            "CommunicationLogId": self._log_id(log),
            "PartyId": party.id,
            "UniformId": party.uniform_id,
            "Address": body["Address"],
            "MessageType": body.get("MessageType", 0),
            "Subject": log["Subject"],
            "Html": log.get("Html"),
            "Text": log.get("Text"),
            "Status": log.get("Status", 0),
            "CreatedOn": moment,
            "CreatedBy": writer,
            "sent": body,
        }
        entry["CommunicationLogRecipientId"] = entry["Id"]
        self.interactions.append(entry)
        for name, data in files:
            self._store_file(entry["Id"], name, data, "nested")
        return JSONResponse(self._recipient(entry, with_bytes=True), status_code=201)

    def _recipient_party(self, value: Any) -> Party:
        reference = _shape(value, T_PARTY_REF, PARTY_REFERENCE, "Party")
        party_id = reference["PartyId"]
        if reference.get("Id") is not None and reference["Id"] != party_id:
            raise _invalid("Id", "Party.Id must be Party.PartyId.", reference["Id"])
        party = self.parties.get(party_id)
        if party is None:
            raise _invalid("PartyId", f"No party has the id {party_id}.", party_id)
        given = reference.get("UniformId")
        if given is None and self.uniform_id_required:
            raise _invalid("UniformId", "Party.UniformId is required: the party's GUID.")
        if given is not None and uuid.UUID(given) != uuid.UUID(party.uniform_id):
            message = f"Party.UniformId is not the UniformId of party {party_id}."
            raise _invalid("UniformId", message, given)
        return party

    def _log_id(self, log: dict[str, Any]) -> str:
        given = log.get("CommunicationLogId")
        if given is not None:
            if not any(e["CommunicationLogId"].lower() == given.lower() for e in self.interactions):
                raise _invalid("CommunicationLogId", f"No communication log {given}.", given)
            return str(given)
        if not self.nested_log_created:
            raise _invalid("CommunicationLogId", "CommunicationLog.CommunicationLogId is required.")
        return str(uuid.uuid4())

    def _nested_file(self, item: Any) -> tuple[str, bytes]:
        if isinstance(item, dict) and "CommunicationLogRecipientId" in item:
            message = (
                "A recipient's own Attachments carry no CommunicationLogRecipientId: they "
                "are saved with it."
            )
            raise _invalid(
                "CommunicationLogRecipientId", message, item["CommunicationLogRecipientId"]
            )
        file = _shape(item, T_FILE, FILE, "CommunicationLogRecipientAttachmentData")
        return file["Name"], _bytes(file["Attachment"])

    def _store_file(self, recipient_id: str, name: str, data: bytes, way: str) -> dict[str, Any]:
        record = {
            "Id": str(uuid.uuid4()),
            "CommunicationLogRecipientId": recipient_id,
            "Name": name,
            "Attachment": data,
            "way": way,
        }
        record["CommunicationLogRecipientAttachmentId"] = record["Id"]
        self.attachments.append(record)
        return record

    def _recipient(self, entry: dict[str, Any], with_bytes: bool) -> dict[str, Any]:
        """The record as iMIS answers it: its GUID key, no Identity, no default values."""
        files = [
            _file_data(a, with_bytes)
            for a in self.attachments
            if a["CommunicationLogRecipientId"] == entry["Id"]
        ]
        return _trim(
            {
                "$type": T_RECIPIENT,
                "CommunicationLogRecipientId": entry["Id"],
                "Party": self._party_reference(entry["PartyId"]),
                "Address": entry["Address"],
                "MessageType": entry["MessageType"],
                "CommunicationLog": {
                    "$type": T_LOG,
                    "CommunicationLogId": entry["CommunicationLogId"],
                    "Subject": entry["Subject"],
                    "Html": entry["Html"],
                    "Text": entry["Text"],
                    "Status": entry["Status"],
                },
                "Attachments": {"$type": T_FILES, "$values": files} if files else None,
                "UpdateInformation": {
                    "$type": T_UPDATE_INFO,
                    "CreatedBy": entry["CreatedBy"],
                    "CreatedOn": entry["CreatedOn"],
                    "UpdatedBy": entry["CreatedBy"],
                    "UpdatedOn": entry["CreatedOn"],
                },
            }
        )

    async def list_interactions(self, request: Request) -> Response:
        await self._caller(request, read=True)
        fields = {
            "PartyId": lambda e: [e["PartyId"]],
            "Address": lambda e: [e["Address"]],
            "CommunicationLogRecipientId": lambda e: [e["Id"]],
        }
        return self._find(
            request, self.interactions, fields, lambda e: self._recipient(e, with_bytes=False)
        )

    async def create_attachment(self, request: Request) -> Response:
        _, body = await self._write(request)
        file = _shape(body, T_FILE, FILE_ALONE, "CommunicationLogRecipientAttachmentData")
        wanted = file["CommunicationLogRecipientId"].lower()
        entry = next((e for e in self.interactions if e["Id"].lower() == wanted), None)
        if entry is None:
            message = f"No communication log recipient {file['CommunicationLogRecipientId']}."
            raise _invalid("CommunicationLogRecipientId", message, wanted)
        record = self._store_file(entry["Id"], file["Name"], _bytes(file["Attachment"]), "alone")
        return JSONResponse(_trim(_file_data(record, with_bytes=True)), status_code=201)

    # -- metadata (L232) -------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        await self._caller(request, read=True)
        wanted = request.path_params["entity"].lower()
        entity = next((name for name in METADATA if name.lower() == wanted), None)
        if entity is None or entity not in self._described():
            raise Refusal(404, f"No entity {request.path_params['entity']} is defined.")
        return JSONResponse(_definition(entity))

    def _described(self) -> set[str]:
        described = set(self.metadata_entities)
        if not self.activity_metadata:
            described.discard("Activity")
        if not self.activity_attachments:
            described.discard("LegacyActivityAttachment")
        return described


# -- faults: an answer given as is, or a connection dropped ------------------------------------


class Fault(Exception):
    def __init__(self, answer: Response) -> None:
        super().__init__("a fault switched on")
        self.answer = answer


def _fault(request: Request, error: Fault) -> Response:
    return error.answer


class _Dropped(Response):
    """Promises a body, sends one byte of it and returns: the server closes the connection."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})


# -- errors (L243-247) --------------------------------------------------------------------------


def _refusal(request: Request, error: Refusal) -> Response:
    if error.status == 400:
        return JSONResponse(_validation_results(error), status_code=400)
    headers = {"Retry-After": "1"} if error.status == 429 else None
    if error.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"Message": str(error)}, status_code=error.status, headers=headers)


def _validation_results(error: Refusal) -> dict[str, Any]:
    """A ValidationResultsData: Summary and Errors, no top-level Message (L243-245)."""
    value = error.value
    if value is not None and not isinstance(value, str):
        value = str(value)
    item = {
        "$type": T_VALIDATION_ITEM,
        "FieldName": error.field,
        "FieldValue": value,
        "Message": str(error),
        "FormattedMessage": str(error),
    }
    return {
        "$type": T_VALIDATION,
        "Errors": {"$type": T_VALIDATION_LIST, "$values": [item]},
        "Warnings": {"$type": T_VALIDATION_LIST, "$values": []},
        "Summary": str(error),
    }


# -- the request, read -------------------------------------------------------------------------


def _match(pattern: str, segments: list[str]) -> dict[str, str] | None:
    parts = pattern.split("/")
    if len(parts) != len(segments):
        return None
    params = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = segment
        elif part != segment.lower():
            return None
    return params


def _args(request: Request) -> list[tuple[str, str]]:
    """The query string's pairs, in order ('+' is a space, as ASP.NET reads it)."""
    return parse_qsl(request.url.query, keep_blank_values=True)


def _int_or_zero(text: str) -> int:
    """int.TryParse as QueryExtensions.cs uses it: anything else is 0."""
    try:
        return int(text)
    except ValueError:
        return 0


def _filter(value: str) -> tuple[str, list[str]]:
    """ASI's parser (L197-198): split on '|', then the first piece on its first ':'; a known
    operator head applies, else Equal to every piece."""
    values = value.split("|")
    head, sep, rest = values[0].partition(":")
    if sep and head in OPERATORS:
        return OPERATORS[head], [rest, *values[1:]]
    return "Equal", values


def _test(operation: str, wanted: list[str], candidates: list[str]) -> bool:
    """Whether a record's values meet a filter; text compares without case, as SQL Server."""
    have = [c.lower() for c in candidates]
    want = [w.lower() for w in wanted]
    tests: dict[str, Callable[[], bool]] = {
        "Equal": lambda: any(h in want for h in have),
        "In": lambda: any(h in want for h in have),
        "NotEqual": lambda: all(h not in want for h in have),
        "Contains": lambda: any(w in h for w in want for h in have),
        "NotContain": lambda: not any(w in h for w in want for h in have),
        "StartsWith": lambda: any(h.startswith(w) for w in want for h in have),
        "EndsWith": lambda: any(h.endswith(w) for w in want for h in have),
        "IsEmpty": lambda: not any(have),
        "NotEmpty": lambda: any(have),
        "IsTrue": lambda: "true" in have,
        "IsFalse": lambda: "false" in have,
        "GreaterThan": lambda: any(h > want[0] for h in have),
        "GreaterThanOrEqual": lambda: any(h >= want[0] for h in have),
        "LessThan": lambda: any(h < want[0] for h in have),
        "LessThanOrEqual": lambda: any(h <= want[0] for h in have),
        "Between": lambda: any(want[0] <= h <= want[-1] for h in have),
    }
    return tests[operation]()


def _ordered(
    request: Request, items: list[Any], known: Mapping[str, tuple[str, Callable[[Any], list[str]]]]
) -> list[Any]:
    for key, value in _args(request):
        if key.lower() != "orderby":
            continue
        for part in reversed(value.split("|")):
            name, _, order = part.partition(":")
            if name.lower() not in known:
                raise _invalid("OrderBy", f"{name} is not a property to order by.", value)
            by = _sort_key(known[name.lower()][1])
            items = sorted(items, key=by, reverse=order.lower() == "descending")
    return items


def _sort_key(read: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    return lambda item: [v.lower() for v in read(item)]


async def _json_body(request: Request) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        message = f"The request entity's media type '{media}' is not supported for this resource."
        raise Refusal(415, message)
    try:
        body = await request.json()
    except ValueError as error:
        raise _invalid("", f"The request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise _invalid("", "The request body must be an object.")
    return body


# -- the contracts, checked --------------------------------------------------------------------


def _short(type_name: str | None) -> str:
    return (type_name or "").split(",")[0].rsplit(".", 1)[-1]


def _shape(
    value: Any, type_name: str | None, known: Mapping[str, Column], where: str
) -> dict[str, Any]:
    """An object of exactly this $type, with only these properties, each as its column says."""
    if not isinstance(value, dict):
        raise _invalid(where, f"{where} must be an object of $type {type_name}.", value)
    given = value.get("$type")
    if given != type_name:
        generic = " A generic entity is not taken here." if given == T_ENTITY else ""
        raise _invalid("$type", f"{where} must have the $type {type_name!r}.{generic}", given)
    unknown = sorted(set(value) - set(known) - {"$type"})
    if unknown:
        raise _invalid(unknown[0], f"{_short(type_name)} has no property {unknown[0]}.")
    for name, column in known.items():
        _check(name, value.get(name), column)
    return value


def _collection(value: Any, type_name: str, where: str) -> list[Any]:
    """A ``{"$type": ..., "$values": [...]}`` collection (absent: empty)."""
    if value is None:
        return []
    if not isinstance(value, dict) or value.get("$type") != type_name:
        raise _invalid(where, f"{where} must be a collection of $type {type_name!r}.")
    if set(value) != {"$type", "$values"} or not isinstance(value["$values"], list):
        raise _invalid(where, f"{where} holds exactly $type and a $values list.")
    values: list[Any] = value["$values"]
    return values


def _generic(body: dict[str, Any], entity: str, columns: Mapping[str, Column]) -> dict[str, Any]:
    """A GenericEntityData (L55-63) of this entity: its properties' values, unwrapped."""
    if body.get("$type") != T_ENTITY:
        raise _invalid("$type", f"{entity} takes a GenericEntityData.", body.get("$type"))
    unknown = sorted(set(body) - GENERIC_KEYS)
    if unknown:
        raise _invalid(unknown[0], f"GenericEntityData has no property {unknown[0]}.")
    if body.get("EntityTypeName") != entity:
        raise _invalid(
            "EntityTypeName", f"EntityTypeName must be {entity}.", body.get("EntityTypeName")
        )
    values: dict[str, Any] = {}
    for item in _collection(body.get("Properties"), T_PROPERTIES, "Properties"):
        if not isinstance(item, dict) or item.get("$type") != T_PROPERTY:
            raise _invalid("Properties", f"Each property must have the $type {T_PROPERTY!r}.")
        if set(item) - {"$type", "Name", "Value"}:
            raise _invalid("Properties", "A GenericPropertyData holds $type, Name and Value.")
        name = str(item.get("Name"))
        if name not in columns:
            raise _invalid(name, f"{entity} has no property {name}.")
        if name in values:
            raise _invalid(name, f"{name} is given twice.")
        _check(name, item.get("Value"), columns[name])
        raw = item.get("Value")
        values[name] = raw["$value"] if isinstance(raw, dict) else raw
    for name, column in columns.items():
        if column.required and values.get(name) in (None, ""):
            raise _invalid(name, f"{name} is required.")
    return values


def _check(name: str, value: Any, column: Column) -> None:
    if value is None or value == "":
        if column.required:
            raise _invalid(name, f"{name} is required.")
        if value is None or column.kind in ("String", "Text"):
            return
    problem = CHECKS[column.kind](value, column)
    if problem:
        raise _invalid(name, f"{name} {problem}", value if isinstance(value, str | int) else None)


def _text(value: Any, column: Column) -> str | None:
    if not isinstance(value, str):
        return "is text: it must be a plain string, not wrapped."
    if column.max_length is not None and len(value) > column.max_length:
        return f"holds at most {column.max_length} characters ({len(value)} given)."
    return None


def _integer(value: Any, column: Column) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer."
    if column.choices is not None and value not in column.choices:
        return f"must be one of {column.choices.start}..{column.choices.stop - 1}."
    return None


def _guid(value: Any, column: Column) -> str | None:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return "must be a GUID string."
    return None


def _date(value: Any, column: Column) -> str | None:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return "must be a plain date as YYYY-MM-DDTHH:MM:SS."
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return "is not a date."
    return None


def _decimal(value: Any, column: Column) -> str | None:
    number = value.get("$value") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or set(value) != {"$type", "$value"}
        or value["$type"] != T_DECIMAL
        or isinstance(number, bool)
        or not isinstance(number, int | float)
    ):
        return 'is a decimal: it must be {"$type": "System.Decimal", "$value": <number>}.'
    return None


def _wrapped_bytes(value: Any, column: Column) -> str | None:
    if (
        not isinstance(value, dict)
        or value.get("$type") != T_BYTES
        or set(value) != {"$type", "$value"}
    ):
        return (
            f'must be {{"$type": "{T_BYTES}", "$value": "<base64>"}}: the property is typed '
            "object, and a bare string is stored as nothing."
        )
    return _base64(value["$value"], column)


def _base64(value: Any, column: Column) -> str | None:
    if not isinstance(value, str):
        return "must be a plain base64 string."
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "is not base64."
    if not data:
        return "is empty: an empty file is never written."
    return None


CHECKS: dict[str, Callable[[Any, Column], str | None]] = {
    "String": _text,
    "Text": _text,
    "Int": _integer,
    "Bool": lambda v, c: None if isinstance(v, bool) else "must be true or false.",
    "Guid": _guid,
    "Id": lambda v, c: (
        None
        if isinstance(v, str | int) and not isinstance(v, bool)
        else "must be a sequence number."
    ),
    "Date": _date,
    "Decimal": _decimal,
    "Bytes": _wrapped_bytes,
    "Base64": _base64,
    "Object": lambda v, c: None if isinstance(v, dict) else "must be an object.",
}


def _bytes(wrapper: dict[str, Any]) -> bytes:
    return base64.b64decode(wrapper["$value"])


# -- the answers --------------------------------------------------------------------------------


def _trim(value: dict[str, Any]) -> dict[str, Any]:
    trimmed: dict[str, Any] = _trimmed(value)
    return trimmed


def _trimmed(value: Any) -> Any:
    """A typed contract as iMIS answers it: no null, false or zero values (L168)."""
    if isinstance(value, dict):
        return {
            k: _trimmed(v)
            for k, v in value.items()
            if v is not None and v is not False and not (type(v) is int and v == 0)
        }
    if isinstance(value, list):
        return [_trimmed(v) for v in value]
    return value


def _net_date(moment: datetime) -> str:
    """A DateTime as Json.NET writes it: seconds, then only the fraction's significant digits."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.isoformat()[len(moment.replace(tzinfo=None).isoformat()) :]
    return f"{text}.{fraction}{offset}" if fraction else f"{text}{offset}"


def _person(party: Party) -> dict[str, Any]:
    first, last = party.names()
    emails = [
        {"$type": T_EMAIL, "Address": address, "EmailType": kind, "IsPrimary": n == 0}
        for n, (address, kind) in enumerate(zip(party.emails, party.email_types, strict=False))
    ]
    return _trim(
        {
            "$type": T_PERSON,
            "PersonName": {
                "$type": T_PERSON_NAME,
                "FirstName": first,
                "LastName": last,
                "FullName": party.name,
            },
            "PrimaryOrganization": {"$type": T_ORG, "Name": party.organization}
            if party.organization
            else None,
            "Email": party.primary or None,
            "Emails": {"$type": T_EMAILS, "$values": emails},
            "UniformId": party.uniform_id,
            "PartyId": party.id,
            "Id": party.id,
            "Name": party.name,
        }
    )


def _file_data(record: dict[str, Any], with_bytes: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "$type": T_FILE,
        "CommunicationLogRecipientAttachmentId": record["Id"],
        "CommunicationLogRecipientId": record["CommunicationLogRecipientId"],
        "Name": record["Name"],
    }
    if with_bytes:
        data["Attachment"] = {
            "$type": T_BYTES,
            "$value": base64.b64encode(record["Attachment"]).decode(),
        }
    return data


def _user_security(entry: tuple[str, User]) -> dict[str, Any]:
    key, user = entry
    roles = [
        {
            "$type": T_ROLE,
            "RoleKey": str(uuid.uuid5(PARTY_GUIDS, f"role:{role}")),
            "Description": role,
            "RoleName": role,
        }
        for role in user.roles
    ]
    return {
        "$type": T_USER_SECURITY,
        "UserId": user.party_id or key,
        "UserName": key,
        "Roles": {"$type": T_ROLES, "$values": roles},
    }


def _address_purpose(name: str) -> dict[str, Any]:
    return {
        "$type": T_ADDRESS_PURPOSE,
        "Name": name,
        "AddressPurposeId": str(uuid.uuid5(PARTY_GUIDS, f"purpose:{name}")),
    }


def _identity(entity: str, key: str) -> dict[str, Any]:
    return {
        "$type": T_IDENTITY,
        "EntityTypeName": entity,
        "IdentityElements": {"$type": T_STRINGS, "$values": [key]},
    }


def _wrap(value: Any, column: Column) -> Any:
    if column.kind == "Decimal":
        return {"$type": T_DECIMAL, "$value": value}
    if column.kind == "Int":
        return {"$type": T_INT32, "$value": int(value)}
    return value


def _activity_entity(record: dict[str, Any]) -> dict[str, Any]:
    """The activity as a generic entity (L55-63): its sequence number both in
    ``Identity.IdentityElements.$values[0]`` (a string) and as the property SEQN."""
    columns = METADATA["Activity"]
    properties = [
        {"$type": T_PROPERTY, "Name": name, "Value": _wrap(value, columns[name])}
        for name, value in record.items()
    ]
    return {
        "$type": T_ENTITY,
        "EntityTypeName": "Activity",
        "PrimaryParentEntityTypeName": "Party",
        "Identity": _identity("Activity", record["SEQN"]),
        "PrimaryParentIdentity": _identity("Party", record["PartyId"]),
        "Properties": {"$type": T_PROPERTIES, "$values": properties},
    }


def _column_reader(name: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda record: [str(record.get(name, "") or "")]


def _iqa_row(entity: str, query: IqaQuery, party: Party) -> dict[str, Any]:
    """An IQA row (L213): a generic entity whose properties are the query's columns."""
    properties = []
    for name, read in query.columns.items():
        value = read(party)
        if isinstance(value, int) and not isinstance(value, bool):
            value = {"$type": T_INT32, "$value": value}
        properties.append({"$type": T_PROPERTY, "Name": name, "Value": value})
    return {
        "$type": T_ENTITY,
        "EntityTypeName": entity,
        "PrimaryParentEntityTypeName": "",
        "Properties": {"$type": T_PROPERTIES, "$values": properties},
    }


PROPERTY_TYPES = {  # kind -> (contract class, PropertyTypeName), as iMIS metadata names them
    "String": ("String", "String"),
    "Text": ("String", "String"),
    "Guid": ("String", "String"),
    "Id": ("String", "String"),
    "Int": ("Integer", "Integer"),
    "Bool": ("Boolean", "Boolean"),
    "Date": ("DateTime", "Date"),
    "Decimal": ("Decimal", "Decimal"),
    "Bytes": ("Binary", "Binary"),
    "Base64": ("Binary", "Binary"),
}


def _definition(entity: str) -> dict[str, Any]:
    properties = []
    for name, column in METADATA[entity].items():
        if column.kind not in PROPERTY_TYPES:
            continue
        kind, type_name = PROPERTY_TYPES[column.kind]
        described: dict[str, Any] = {
            "$type": _asi(f"Asi.Soa.Core.DataContracts.PropertyType{kind}Data"),
            "Name": name,
            "PropertyTypeName": type_name,
        }
        if column.max_length is not None:
            described["MaxLength"] = column.max_length
        if column.required:
            described["Required"] = True
        properties.append(described)
    return {
        "$type": T_BO_DEFINITION if entity == "Activity" else T_ENTITY_DEFINITION,
        "EntityTypeName": entity,
        "Properties": {"$type": T_PROPERTY_TYPES, "$values": properties},
    }
