"""The iMIS REST API's JSON shapes: ``$type`` / ``$values`` envelopes, wrapped values, pages.

From ../shared/spec/imis-notes.md (ASI's public Postman collections and
developer.imis.com): objects name their .NET type in ``$type``; lists are
``{"$type": ..., "$values": [...]}``; a generic entity carries its fields
as ``Properties.$values`` of ``{Name, Value}``, where a value that is not a
string or a date is wrapped as ``{"$type": "System.Int32", "$value": 5}``;
a new record's key is ``Identity.IdentityElements.$values[0]``; lists of
results are paged with ``Offset``, ``Limit``, ``HasNext`` and ``NextOffset``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

CONTRACTS = "Asi.Contracts"
GENERIC_ENTITY = f"Asi.Soa.Core.DataContracts.GenericEntityData, {CONTRACTS}"
PROPERTY_COLLECTION = f"Asi.Soa.Core.DataContracts.GenericPropertyDataCollection, {CONTRACTS}"
PROPERTY = f"Asi.Soa.Core.DataContracts.GenericPropertyData, {CONTRACTS}"
PERSON = f"Asi.Soa.Membership.DataContracts.PersonData, {CONTRACTS}"
PERSON_NAME = f"Asi.Soa.Membership.DataContracts.PersonNameData, {CONTRACTS}"
EMAIL = f"Asi.Soa.Membership.DataContracts.EmailData, {CONTRACTS}"
EMAILS = f"Asi.Soa.Membership.DataContracts.EmailDataCollection, {CONTRACTS}"
PRIMARY_ORGANIZATION = (
    f"Asi.Soa.Membership.DataContracts.PrimaryOrganizationInformationData, {CONTRACTS}"
)
BYTES = "System.Byte[], mscorlib"
INT = "System.Int32"
BOOLEAN = "System.Boolean"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"  # what TRANSACTION_DATE takes: no zone


def wrap(value: str | int | bool | bytes | datetime) -> Any:
    """A property value as iMIS takes it: strings and dates plain, the rest wrapped."""
    if isinstance(value, bool):
        return {"$type": BOOLEAN, "$value": value}
    if isinstance(value, int):
        return {"$type": INT, "$value": value}
    if isinstance(value, bytes):
        return {"$type": BYTES, "$value": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, dict) and "$value" in value:
        return value["$value"]
    return value


def values(listing: Any) -> list[Any]:
    """The items of a ``$values`` list (or of a plain JSON list)."""
    if isinstance(listing, dict):
        listing = listing.get("$values", [])
    return list(listing) if isinstance(listing, list) else []


def generic_entity(entity: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "$type": GENERIC_ENTITY,
        "EntityTypeName": entity,
        "PrimaryParentEntityTypeName": "Party",
        "Properties": {
            "$type": PROPERTY_COLLECTION,
            "$values": [
                {"$type": PROPERTY, "Name": name, "Value": wrap(value)}
                for name, value in properties.items()
            ],
        },
    }


def properties(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A generic entity's (or an IQA row's) properties, unwrapped, by name."""
    found: dict[str, Any] = {}
    for item in values(entity.get("Properties")):
        if isinstance(item, dict) and "Name" in item:
            found[str(item["Name"])] = unwrap(item.get("Value"))
    return found


def identity(entity: Mapping[str, Any]) -> str | None:
    """The key iMIS gave a new record."""
    elements = values((entity.get("Identity") or {}).get("IdentityElements"))
    return str(elements[0]) if elements else None


def page(body: Any) -> tuple[list[Any], int | None]:
    """A page of results: its items, and the offset of the next page (None: the last)."""
    if not isinstance(body, dict):
        return [], None
    items = values(body.get("Items"))
    if body.get("HasNext"):
        following = body.get("NextOffset")
        if isinstance(following, int) and following > int(body.get("Offset") or 0):
            return items, following
    return items, None


# -- typed contracts (imis-notes.md, "What ASI's own libraries show") ------------------------

COMMUNICATIONS = "Asi.Soa.Communications.DataContracts"
RECIPIENT = f"{COMMUNICATIONS}.CommunicationLogRecipientData, {CONTRACTS}"
COMMUNICATION_LOG = f"{COMMUNICATIONS}.CommunicationLogData, {CONTRACTS}"
RECIPIENT_FILE = f"{COMMUNICATIONS}.CommunicationLogRecipientAttachmentData, {CONTRACTS}"
RECIPIENT_FILES = f"{COMMUNICATIONS}.CommunicationLogRecipientAttachmentDataCollection, {CONTRACTS}"
PARTY_REFERENCE = f"Asi.Soa.Membership.DataContracts.PartyReferenceData, {CONTRACTS}"
FIND_BY_EMAIL = f"Asi.Soa.Membership.DataContracts.PartyFindByEmailRequest, {CONTRACTS}"
DECIMAL = "System.Decimal"
MESSAGE_TYPE_EMAIL = 0  # enums travel as integers: Email 0, SMS 1, AdvancedEmail 2, Print 3


def file_bytes(data: bytes) -> dict[str, str]:
    """A file's content where the slot is typed ``object``: the ``System.Byte[]`` wrapper (a
    bare string is stored as nothing)."""
    return {"$type": BYTES, "$value": base64.b64encode(data).decode("ascii")}


def validation_errors(body: Any) -> str | None:
    """A ``ValidationResultsData`` as one sentence naming each field; None when it is not one.

    iMIS answers a refused write with ``Summary`` and ``Errors.$values[{FieldName,
    Message}]``, and no top-level ``Message``.
    """
    if not isinstance(body, dict) or ("Errors" not in body and "Summary" not in body):
        return None
    said = []
    for error in values(body.get("Errors")):
        if not isinstance(error, dict):
            continue
        text = str(error.get("Message") or error.get("FormattedMessage") or "").strip()
        field = str(error.get("FieldName") or "").strip()
        if text:
            said.append(f"{field}: {text}" if field and field not in text else text)
    summary = str(body.get("Summary") or "").strip()
    if not said and not summary:
        return None
    return "; ".join(said) if said else summary
