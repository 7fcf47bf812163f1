"""A stand-in for an iMIS site's REST API, for the tests: strict about the documented wire format.

iMIS cannot run here. This ASGI app answers as ../shared/spec/imis-notes.md
says iMIS does (token, paged ``$type``/``$values`` envelopes, generic
entities with wrapped values, identities), and refuses what iMIS would
refuse: a body without the right ``$type``s, an unknown property, a wrongly
wrapped value, a To over 100 characters, a file name over 50, an empty
attachment, an Activity on the Professional edition, an Activity of a
system type. Its type names and rules are written here from the notes, not
taken from the connector, so the connector cannot pass by agreeing with
itself. Faults can be switched on: a site that is slow, throttles, fails a
given write, or refuses the background account's password.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ASI = "Asi.Contracts"
T_ENTITY = f"Asi.Soa.Core.DataContracts.GenericEntityData, {ASI}"
T_PROPERTIES = f"Asi.Soa.Core.DataContracts.GenericPropertyDataCollection, {ASI}"
T_PROPERTY = f"Asi.Soa.Core.DataContracts.GenericPropertyData, {ASI}"
T_PERSON = f"Asi.Soa.Membership.DataContracts.PersonData, {ASI}"
T_PERSON_NAME = f"Asi.Soa.Membership.DataContracts.PersonNameData, {ASI}"
T_EMAIL = f"Asi.Soa.Membership.DataContracts.EmailData, {ASI}"
T_EMAILS = f"Asi.Soa.Membership.DataContracts.EmailDataCollection, {ASI}"
T_ORG = f"Asi.Soa.Membership.DataContracts.PrimaryOrganizationInformationData, {ASI}"
T_USER = f"Asi.Soa.Membership.DataContracts.UserData, {ASI}"
T_ACTIVITY_TYPE = f"Asi.Soa.Core.DataContracts.LegacyActivityTypeData, {ASI}"
T_PAGED = f"Asi.Soa.Core.DataContracts.PagedResult, {ASI}"
T_BYTES = "System.Byte[], mscorlib"
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
SYSTEM_TYPES = {"DUES", "ORDER", "SALES"}

ACTIVITY_FIELDS = {"ACTIVITY_TYPE", "PartyId", "TRANSACTION_DATE", "DESCRIPTION", "NOTE",
                   "SOURCE_CODE"}  # fmt: skip
INTERACTION_FIELDS = {"RecipientId", "Subject", "Body", "To", "MessageType"}
ATTACHMENT_FIELDS = {"CommunicationLogRecipientId", "FileName", "Content"}


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Party:
    id: str
    name: str
    emails: list[str]
    organization: str = ""


@dataclass
class User:
    password: str
    roles: list[str]
    party_id: str = ""
    email: str = ""


@dataclass
class StandIn:
    """The site's state, and its faults."""

    parties: dict[str, Party] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    activity_types: list[dict[str, Any]] = field(default_factory=list)
    edition: str = "enterprise"
    token_lifetime: int = 1200
    # what was written, as iMIS would hold it
    activities: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # what was asked
    token_requests: list[str] = field(default_factory=list)
    searches: list[tuple[str, str]] = field(default_factory=list)  # (user, query)
    pages: list[tuple[str, int, int]] = field(default_factory=list)  # (path, offset, limit)
    writers: list[str] = field(default_factory=list)  # the user behind each write
    # faults
    slow_seconds: float = 0.0
    slow_writes: float = 0.0  # seconds a write takes before it is done and answered
    throttle_next: int = 0  # this many requests answered 429
    fail_next_reads: int = 0  # this many reads answered 500
    fail_writes: set[int] = field(default_factory=set)  # these writes (1, 2, ...) answer 500
    background_refused: bool = False
    background_account: str = "MANAGER"
    writes: int = 0
    # -- faults for issue 14: throttling bursts and dropped connections -------------------
    # ``faults_on``: (path, n) -> the faults met, one request each, by the nth request to
    # that path (counted from 1, every try counts) and the ones after it: "429" (no
    # Retry-After), "429:SECONDS" (with one), "reset" (the connection is dropped half-way
    # through the answer). ``reset_next``: this many requests, whatever the path, dropped.
    # ``requests``: (method, path) of every API request that reached the site.
    faults_on: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    reset_next: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    _asked: dict[str, int] = field(default_factory=dict)
    _due: dict[str, list[str]] = field(default_factory=dict)

    def _issue_14_faults(self, request: Request) -> None:
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

    # -- end of the faults for issue 14 --------------------------------------------------
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(5001))

    def app(self) -> Starlette:
        app = Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/api/Party", self.find_parties, methods=["GET"]),
                Route("/api/Party/{party_id}", self.one_party, methods=["GET"]),
                Route("/api/Person", self.create_person, methods=["POST"]),
                Route("/api/iqa", self.iqa, methods=["GET"]),
                Route("/api/LegacyActivityType", self.list_activity_types, methods=["GET"]),
                Route("/api/User", self.find_users, methods=["GET"]),
                Route("/api/Activity", self.create_activity, methods=["POST"]),
                Route("/api/CommunicationLogRecipient", self.create_interaction, methods=["POST"]),
                Route(
                    "/api/CommunicationLogRecipientAttachment",
                    self.create_attachment,
                    methods=["POST"],
                ),
            ],
            exception_handlers={Refusal: _refusal, Fault: _fault},  # type: ignore[dict-item]
        )
        app.state.standin = self
        return app

    # -- sign-in ----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "password":
            raise Refusal(400, "unsupported_grant_type")
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        self.token_requests.append(name)
        user = self.users.get(name.lower())
        refused = self.background_refused and name.lower() == self.background_account.lower()
        if user is None or user.password != password or refused:
            wrong = "The user name or password is incorrect."
            return JSONResponse(
                {"error": "invalid_grant", "error_description": wrong}, status_code=400
            )
        token = secrets.token_urlsafe(16)
        self._tokens[token] = (name.lower(), time.monotonic() + self.token_lifetime)
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime,
             "userName": name},
        )  # fmt: skip

    async def _caller(self, request: Request) -> str:
        self._issue_14_faults(request)
        if self.fail_next_reads > 0 and request.method == "GET":
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

    # -- reading ----------------------------------------------------------------------

    async def find_parties(self, request: Request) -> Response:
        await self._caller(request)
        query = _only(request, {"Email", "limit", "offset"})
        operator, _, value = query.get("Email", "").partition(":")
        if operator not in ("eq", "in") or not value:
            raise Refusal(400, "Email filter must be eq: or in:")
        wanted = {v.strip().lower() for v in value.split("|")}
        found = [p for p in self.parties.values() if wanted & {e.lower() for e in p.emails}]
        return _paged(request, [_person(p) for p in found])

    async def one_party(self, request: Request) -> Response:
        await self._caller(request)
        party = self.parties.get(request.path_params["party_id"])
        if party is None:
            raise Refusal(404, "Not found")
        return JSONResponse(_person(party))

    async def iqa(self, request: Request) -> Response:
        user = await self._caller(request)
        query = _only(request, {"QueryName", "parameter", "limit", "offset"})
        if not query.get("QueryName", "").startswith("$/"):
            raise Refusal(400, "QueryName must be an IQA path")
        operator, _, text = request.query_params.getlist("parameter")[0].partition(":")
        if operator != "contains":
            raise Refusal(400, "unsupported IQA parameter")
        self.searches.append((user, text))
        text = text.lower()
        rows = [
            {"$type": T_ENTITY, "EntityTypeName": "CsContact", "Properties": {
                "$type": T_PROPERTIES, "$values": [
                    {"$type": T_PROPERTY, "Name": "ID", "Value": p.id},
                    {"$type": T_PROPERTY, "Name": "FullName", "Value": p.name},
                    {"$type": T_PROPERTY, "Name": "Email", "Value": (p.emails or [""])[0]},
                    {"$type": T_PROPERTY, "Name": "Organization", "Value": p.organization},
                ]}}
            for p in self.parties.values()
            if text in p.name.lower() or text in p.organization.lower()
            or any(text in e.lower() for e in p.emails)
        ]  # fmt: skip
        return _paged(request, rows)

    async def list_activity_types(self, request: Request) -> Response:
        await self._caller(request)
        _only(request, {"limit", "offset"})
        return _paged(request, [{"$type": T_ACTIVITY_TYPE, **t} for t in self.activity_types])

    async def find_users(self, request: Request) -> Response:
        await self._caller(request)
        query = _only(request, {"UserName", "limit", "offset"})
        operator, _, name = query.get("UserName", "").partition(":")
        if operator != "eq":
            raise Refusal(400, "UserName filter must be eq:")
        user = self.users.get(name.lower())
        items = []
        if user is not None:
            items.append(
                {"$type": T_USER, "UserName": name, "UserId": f"U-{name}",
                 "Roles": {"$type": "System.Collections.Generic.List`1[[System.String]]",
                           "$values": list(user.roles)},
                 "Party": {"$type": T_PERSON, "PartyId": user.party_id, "Email": user.email}}
            )  # fmt: skip
        return _paged(request, items)

    # -- writing ----------------------------------------------------------------------

    async def _write(self, request: Request) -> dict[str, Any]:
        writer = await self._caller(request)
        self.writes += 1
        if self.writes in self.fail_writes:
            raise Refusal(500, "An error has occurred.")
        self.writers.append(writer)
        body = await request.json()
        if self.slow_writes:
            await asyncio.sleep(self.slow_writes)
        if not isinstance(body, dict):
            raise Refusal(400, "the body must be an object")
        return body

    async def create_person(self, request: Request) -> Response:
        body = await self._write(request)
        _typed(body, T_PERSON, {"$type", "PersonName", "Emails", "PrimaryOrganization"})
        name = body.get("PersonName")
        _typed(name, T_PERSON_NAME, {"$type", "FirstName", "LastName"})
        emails = body.get("Emails")
        _typed(emails, T_EMAILS, {"$type", "$values"})
        addresses = []
        for email in emails["$values"]:
            _typed(email, T_EMAIL, {"$type", "Address", "EmailType", "IsPrimary"})
            addresses.append(str(email["Address"]))
        organization = ""
        if "PrimaryOrganization" in body:
            _typed(body["PrimaryOrganization"], T_ORG, {"$type", "Name"})
            organization = str(body["PrimaryOrganization"]["Name"])
        party = Party(str(next(self._ids)), f"{name['FirstName']} {name['LastName']}".strip(),
                      addresses, organization)  # fmt: skip
        self.parties[party.id] = party
        return JSONResponse(_person(party), status_code=201)

    async def create_activity(self, request: Request) -> Response:
        body = await self._write(request)
        values = _entity(body, "Activity", ACTIVITY_FIELDS | {f"UF_{n}" for n in range(1, 8)})
        if self.edition != "enterprise":
            raise Refusal(403, "This edition of iMIS does not take Activities.")
        for required in ("ACTIVITY_TYPE", "PartyId"):
            if not values.get(required):
                raise Refusal(400, f"{required} is required")
        code = values["ACTIVITY_TYPE"]
        kind = next((t for t in self.activity_types if t["ActivityTypeId"] == code), None)
        if kind is None or code in SYSTEM_TYPES:
            raise Refusal(400, f"ACTIVITY_TYPE {code} is not an activity type that can be added")
        for name in values:
            if name.startswith("UF_") and not kind.get(f"Uf{name[3:]}Prompt"):
                raise Refusal(400, f"activity type {code} has no {name}")
        if values["PartyId"] not in self.parties:
            raise Refusal(400, f"no party {values['PartyId']}")
        if "TRANSACTION_DATE" in values and not DATE.fullmatch(values["TRANSACTION_DATE"]):
            raise Refusal(400, "TRANSACTION_DATE must be YYYY-MM-DDTHH:MM:SS")
        seqn = str(next(self._ids))
        self.activities.append({"SEQN": seqn, **values})
        return _created("Activity", seqn)

    async def create_interaction(self, request: Request) -> Response:
        body = await self._write(request)
        values = _entity(body, "CommunicationLogRecipient", INTERACTION_FIELDS)
        if not values.get("RecipientId") or not values.get("Subject"):
            raise Refusal(400, "RecipientId and Subject are required")
        if values["RecipientId"] not in self.parties:
            raise Refusal(400, f"no party {values['RecipientId']}")
        if len(values.get("To", "")) > 100:
            raise Refusal(400, "To holds at most 100 characters")
        record_id = str(next(self._ids))
        self.interactions.append({"Id": record_id, **values})
        return _created("CommunicationLogRecipient", record_id)

    async def create_attachment(self, request: Request) -> Response:
        body = await self._write(request)
        values = _entity(body, "CommunicationLogRecipientAttachment", ATTACHMENT_FIELDS,
                         binary={"Content"})  # fmt: skip
        if not any(i["Id"] == values.get("CommunicationLogRecipientId") for i in self.interactions):
            raise Refusal(400, "no such communication log entry")
        if len(values.get("FileName", "")) > 50:
            raise Refusal(400, "FileName holds at most 50 characters")
        if not values.get("Content"):
            raise Refusal(400, "an attachment cannot be empty")
        attachment_id = str(next(self._ids))
        self.attachments.append({"Id": attachment_id, **values})
        return _created("CommunicationLogRecipientAttachment", attachment_id)


# -- faults for issue 14: an answer given as is, or a connection dropped -----------------


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


# -- the wire format, checked ------------------------------------------------------------


def _refusal(request: Request, error: Refusal) -> Response:
    headers = {"Retry-After": "1"} if error.status == 429 else None
    return JSONResponse({"Message": str(error)}, status_code=error.status, headers=headers)


def _only(request: Request, allowed: set[str]) -> dict[str, str]:
    unknown = {k for k in request.query_params if k not in allowed}
    if unknown:
        raise Refusal(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    return dict(request.query_params)


def _typed(value: Any, expected: str, allowed: set[str]) -> None:
    if not isinstance(value, dict) or value.get("$type") != expected:
        raise Refusal(400, f"expected an object of $type {expected}")
    unknown = set(value) - allowed
    if unknown:
        raise Refusal(400, f"unknown propert(ies) {', '.join(sorted(unknown))} on {expected}")


def _entity(
    body: dict[str, Any],
    entity: str,
    allowed: set[str],
    binary: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    _typed(body, T_ENTITY, {"$type", "EntityTypeName", "PrimaryParentEntityTypeName", "Properties"})
    if body.get("EntityTypeName") != entity:
        raise Refusal(400, f"EntityTypeName must be {entity}")
    properties = body.get("Properties")
    _typed(properties, T_PROPERTIES, {"$type", "$values"})
    values: dict[str, Any] = {}
    for item in properties["$values"]:
        _typed(item, T_PROPERTY, {"$type", "Name", "Value"})
        name, value = item["Name"], item["Value"]
        if name not in allowed:
            raise Refusal(400, f"{entity} has no property {name}")
        if name in binary:
            if not (isinstance(value, dict) and value.get("$type") == T_BYTES):
                raise Refusal(400, f"{name} must be wrapped as {T_BYTES}")
            value = base64.b64decode(value["$value"], validate=True)
        elif not isinstance(value, str):
            raise Refusal(400, f"{name} is text: it must not be wrapped")
        values[name] = value
    return values


T_IDENTITY = "Asi.Soa.Core.DataContracts.IdentityData, Asi.Contracts"
T_STRINGS = "System.Collections.ObjectModel.Collection`1[[System.String]]"
T_LIST = "System.Collections.Generic.List`1"


def _created(entity: str, key: str) -> Response:
    return JSONResponse(
        {"$type": T_ENTITY, "EntityTypeName": entity,
         "Identity": {"$type": T_IDENTITY, "EntityTypeName": entity,
                      "IdentityElements": {"$type": T_STRINGS, "$values": [key]}}},
        status_code=201,
    )  # fmt: skip


def _person(party: Party) -> dict[str, Any]:
    first, _, last = party.name.rpartition(" ")
    person: dict[str, Any] = {
        "$type": T_PERSON, "PartyId": party.id, "Id": party.id, "Name": party.name,
        "PersonName": {"$type": T_PERSON_NAME, "FirstName": first, "LastName": last,
                       "FullName": party.name},
        "Email": party.emails[0] if party.emails else "",
        "Emails": {"$type": T_EMAILS, "$values": [
            {"$type": T_EMAIL, "Address": e, "EmailType": "_Primary" if n == 0 else "_Other",
             "IsPrimary": n == 0} for n, e in enumerate(party.emails)]},
    }  # fmt: skip
    if party.organization:
        person["PrimaryOrganization"] = {"$type": T_ORG, "Name": party.organization}
    return person


def _paged(request: Request, items: list[Any]) -> Response:
    limit = int(request.query_params.get("limit", "100"))
    offset = int(request.query_params.get("offset", "0"))
    request.app.state.standin.pages.append((request.url.path, offset, limit))
    chosen = items[offset : offset + limit]
    more = offset + limit < len(items)
    return JSONResponse(
        {"$type": T_PAGED, "Items": {"$type": T_LIST, "$values": chosen},
         "Offset": offset, "Limit": limit, "Count": len(chosen), "TotalCount": len(items),
         "HasNext": more, "NextOffset": offset + limit if more else 0},
    )  # fmt: skip
