"""The names iMIS uses for what mailfiler writes, per organisation, with documented defaults.

iMIS sites differ, and the public material does not name everything (see
../shared/spec/imis-notes.md): which entity takes an interaction, what its
properties are called, which IQA query searches contacts. Every such name
is here, so a site can be corrected in its settings (``mailfiler options
set --cloud-id ACME imis.interaction_entity=ContactInteraction``) without
a change of code. Where a default is a fact from a source, the comment
says which; where no source confirmed it, the comment says "default".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailfiler.core.options import EMAIL_ACTIVITY, SYSTEM_ACTIVITY_TYPES
from mailfiler.errors import BadRequest

_EVERY_TYPE_HAS = ("DESCRIPTION", "NOTE", "TRANSACTION_DATE")
# The activity type an iMIS organisation starts with: the fields every iMIS
# Activity has (ACTIVITY_TYPE and PartyId are filled by the connector), set
# up as the product's example maps them. Its code must exist in iMIS
# (GET /api/LegacyActivityType); an administrator chooses others in Options.
IMIS_EMAIL_ACTIVITY = replace(
    EMAIL_ACTIVITY,
    fields=tuple(f for f in EMAIL_ACTIVITY.fields if f.name in _EVERY_TYPE_HAS),
    defaults={},
    mapping={t: f for t, f in EMAIL_ACTIVITY.mapping.items() if f in _EVERY_TYPE_HAS},
)


@dataclass(frozen=True)
class ImisMapping:
    # GET /api/Party?{party_email_filter}=in:a|b  (the notes: "the sensible first try is
    # GET /api/Party?email=eq:..."; the "in" operator is documented for filters)
    party_email_filter: str = "Email"
    # IQA query run as the signed-in user to search contacts (default: no source names one);
    # its rows carry these columns (the product's notes: ID, Full Name and an Email column).
    search_query: str = "$/Common/Queries/Contact/Contact Search"
    search_parameter_count: int = 1
    search_id_column: str = "ID"
    search_name_column: str = "FullName"
    search_email_column: str = "Email"
    search_organization_column: str = "Organization"
    # GET /api/User?{user_filter}=eq:name (the notes: "try a filter on UserName")
    user_filter: str = "UserName"
    # The communication log: POST on CommunicationLogRecipient is in the Cloud collection;
    # its property names are not shown anywhere (defaults).
    interaction_entity: str = "CommunicationLogRecipient"
    interaction_contact: str = "RecipientId"
    interaction_subject: str = "Subject"
    interaction_body: str = "Body"
    interaction_to: str = "To"
    interaction_message_type: str = "MessageType"
    interaction_message_type_value: str = "Email"
    interaction_attachment_entity: str = "CommunicationLogRecipientAttachment"
    attachment_record: str = "CommunicationLogRecipientId"
    attachment_name: str = "FileName"
    attachment_content: str = "Content"  # System.Byte[] (the collections' binary example)
    # POST /api/Activity with ACTIVITY_TYPE and PartyId (the V2_1 collection's example)
    activity_entity: str = "Activity"
    activity_type: str = "ACTIVITY_TYPE"
    activity_contact: str = "PartyId"
    # Activity types a user may never file as (the product: "never system types such
    # as DUES, ORDER, SALES"; the rest of the list is a default).
    system_activity_types: tuple[str, ...] = SYSTEM_ACTIVITY_TYPES
    # iMIS takes dates without a zone (YYYY-MM-DDTHH:MM:SS): mailfiler writes an instant
    # as the site's clock shows it (default: UTC; a site sets its own, e.g. America/Chicago).
    site_time_zone: str = "UTC"
    page_size: int = 100  # developer.imis.com: the default page is 100 rows
    timeout_seconds: float = 15.0
    retries: int = 3  # for reads, and for writes known not to have landed

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ImisMapping:
        """The mapping from what an administrator gave, every value checked (``BadRequest``
        naming the first wrong one): a name is a name, a number within its bounds."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadRequest(f"unknown iMIS mapping name(s): {', '.join(unknown)}")
        return replace(cls(), **{name: _checked(name, value) for name, value in data.items()})

    @classmethod
    def from_stored(cls, data: Mapping[str, Any] | None) -> tuple[ImisMapping, list[str]]:
        """The mapping an organisation has stored, each value checked alone: one no longer
        valid (stored before a check existed) falls back to its default and is named, so
        that it never locks the organisation out of iMIS, nor blocks its repair."""
        kept: dict[str, Any] = {}
        dropped: list[str] = []
        known = {f.name for f in fields(cls)}
        for name, value in (data or {}).items():
            try:
                if name not in known:
                    raise BadRequest(f"unknown iMIS mapping name {name}")
                kept[name] = _checked(name, value)
            except BadRequest:
                dropped.append(name)
        return replace(cls(), **kept), dropped

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["system_activity_types"] = list(self.system_activity_types)
        return data


# -- what each value may be ---------------------------------------------------------------

# Entity, property and filter names go into request paths and bodies: an identifier, as
# iMIS names them, so that no value can aim a write elsewhere ("../../token").
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_NAMES = frozenset({
    "party_email_filter", "user_filter", "interaction_entity", "interaction_contact",
    "interaction_subject", "interaction_body", "interaction_to", "interaction_message_type",
    "interaction_attachment_entity", "attachment_record", "attachment_name",
    "attachment_content", "activity_entity", "activity_type", "activity_contact",
})  # fmt: skip
# Text sent as a value only (a query parameter, a property's value, a column's display name).
_TEXTS = {
    "search_query": 400,  # an IQA path such as "$/Common/Queries/Contact/Contact Search"
    "search_id_column": 100,
    "search_name_column": 100,
    "search_email_column": 100,
    "search_organization_column": 100,
    "interaction_message_type_value": 50,
}
# Numbers: (least, most). Pages: the notes' maximum is 500 rows. Time-out: ASI's own client
# waits up to 5 minutes for an answer. Retries: each one may cost a time-out.
_BOUNDS: dict[str, tuple[float, float]] = {
    "search_parameter_count": (1, 10),
    "page_size": (1, 500),
    "timeout_seconds": (0.5, 300),
    "retries": (0, 10),
}
_ACTIVITY_CODE = re.compile(r"[A-Za-z0-9_-]{1,30}")


def _checked(name: str, value: Any) -> Any:
    if name in _NAMES:
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value.strip()):
            raise BadRequest(
                f"iMIS mapping {name} must be a name of letters, digits and _ (as iMIS names "
                f"entities and properties), not {str(value)[:100]!r}"
            )
        return value.strip()
    if name in _TEXTS:
        longest = _TEXTS[name]
        if (
            not isinstance(value, str)
            or not value.strip()
            or len(value) > longest
            or not value.isprintable()
        ):
            raise BadRequest(f"iMIS mapping {name} needs a text of 1 to {longest} characters")
        return value.strip()
    if name in _BOUNDS:
        return _number(name, value, type(getattr(ImisMapping(), name)))
    if name == "site_time_zone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise BadRequest(f"{value!r} is not a time zone (like Europe/Paris)") from error
        return str(value)
    if name == "system_activity_types":
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and _ACTIVITY_CODE.fullmatch(v.strip()) for v in value
        ):
            raise BadRequest(
                "iMIS mapping system_activity_types is a list of activity type codes "
                "(letters, digits, _ and -)"
            )
        return tuple(v.strip().upper() for v in value)
    raise AssertionError(f"{name} has no check")  # pragma: no cover - every field has one


def _number(name: str, value: Any, kind: type) -> float | int:
    least, most = _BOUNDS[name]
    within = f"iMIS mapping {name} must be a number from {least:g} to {most:g}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequest(within)
    try:
        number = float(value)
    except ValueError as error:
        raise BadRequest(within) from error
    if not least <= number <= most:  # NaN fails this too
        raise BadRequest(within)
    if kind is int:
        if number != int(number):
            raise BadRequest(f"{within}, a whole one")
        return int(number)
    return number
