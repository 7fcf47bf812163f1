"""The names iMIS uses for what mailfiler writes, per organisation, with documented defaults.

iMIS sites differ, and the public material does not name everything (see
../shared/spec/imis-notes.md): which entity takes an interaction, what its
properties are called, which IQA query searches contacts. Every such name
is here, so a site can be corrected in its settings (``mailfiler options
set --cloud-id ACME imis.search_query='$/Common/Queries/Contact Search'``)
without a change of code. Where a default is a fact from a source, the comment
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
    """Where a fact comes from, the comment says (``imis-notes.md``, "What ASI's own
    libraries show" unless said otherwise); "unknown" means no source settles it, and the
    setting is how a site says what it does."""

    # Contacts by address: GET /api/Party?email=in:a|b (documented with the lower-case name).
    party_email_filter: str = "email"
    # Unknown whether that filter sees addresses other than the primary one: on, each address
    # is asked with the FindByEmail operation (POST /api/Party/_execute) instead.
    find_by_email: bool = False
    # The IQA query that searches contacts, run under the user's own token; no path exists on
    # every site, so it is part of the set-up ("" until an administrator gives it). Its
    # columns are found as ASI's Outlook Integration guide asks (an ID, a full name, the
    # first column whose name holds "Email"); a name here overrides what is found.
    search_query: str = ""
    search_id_column: str = ""
    search_name_column: str = ""
    search_email_column: str = ""
    search_organization_column: str = ""
    # The interaction: POST /api/CommunicationLogRecipient with the typed contract, its
    # files inside it (one write); on, each file is written after it with
    # POST /api/CommunicationLogRecipientAttachment.
    interaction_entity: str = "CommunicationLogRecipient"
    interaction_attachment_entity: str = "CommunicationLogRecipientAttachment"
    interaction_files_one_by_one: bool = False
    # POST /api/Activity with ACTIVITY_TYPE and PartyId (the V2_1 collection's example)
    activity_entity: str = "Activity"
    # New contacts: the first address is _Primary; iMIS names no "_Other", so a further
    # address takes one of the site's address purposes (GET /api/AddressPurpose); "": only
    # the first address is sent, and the review says so.
    new_address_purpose: str = ""
    # Activity types a user may never file as (the product: "never system types such
    # as DUES, ORDER, SALES"; the notes list more).
    system_activity_types: tuple[str, ...] = SYSTEM_ACTIVITY_TYPES
    # iMIS takes dates without a zone (YYYY-MM-DDTHH:MM:SS): mailfiler writes an instant
    # as the site's clock shows it (default: UTC; a site sets its own, e.g. America/Chicago).
    site_time_zone: str = "UTC"
    page_size: int = 500  # the most iMIS gives in one page
    timeout_seconds: float = 15.0  # reads: someone is waiting
    # Writes can be slow (ASI's own client waits up to 5 minutes): a slow write is waited
    # for, not turned into "unsure".
    write_timeout_seconds: float = 120.0
    retries: int = 3  # for reads, and for writes known not to have landed
    # Where the staff site links a record filed in iMIS: {site}, {contact_id}, {record_id}.
    # No source gives an address for one communication-log entry: iMIS previews it from the
    # contact's Interaction Log (help.imis.com, "Interaction Log"). The default opens the
    # contact's staff account page, as the notes' Profile URL example names it
    # (Account_Page_Staff?ID=); a site that knows its own page sets it.
    record_link: str = "{site}/Account_Page_Staff?ID={contact_id}"

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
    "party_email_filter", "interaction_entity", "interaction_attachment_entity",
    "activity_entity",
})  # fmt: skip
# Text sent as a value only (a query parameter, a property's value, a column's display name).
_TEXTS = {
    "search_query": 400,  # an IQA path such as "$/Common/Queries/Contact/Contact Search"
    "search_id_column": 100,
    "search_name_column": 100,
    "search_email_column": 100,
    "search_organization_column": 100,
    "new_address_purpose": 50,
    "record_link": 400,
}
# Texts that may be empty: "" says "find it" or "none".
_MAY_BE_EMPTY = frozenset({
    "search_query", "search_id_column", "search_name_column", "search_email_column",
    "search_organization_column", "new_address_purpose",
})  # fmt: skip
_SWITCHES = frozenset({"find_by_email", "interaction_files_one_by_one"})
# Numbers: (least, most). Pages: the notes' maximum is 500 rows. Time-out: ASI's own client
# waits up to 5 minutes for an answer. Retries: each one may cost a time-out.
_BOUNDS: dict[str, tuple[float, float]] = {
    "page_size": (1, 500),
    "timeout_seconds": (0.5, 300),
    "write_timeout_seconds": (0.5, 300),
    "retries": (0, 10),
}
# Activity.ACTIVITY_TYPE is varchar(10) (imis-notes.md, "Activities").
_ACTIVITY_CODE = re.compile(r"[A-Za-z0-9_-]{1,10}")


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
        least = 0 if name in _MAY_BE_EMPTY else 1
        if (
            not isinstance(value, str)
            or len(value.strip()) < least
            or len(value) > longest
            or not value.isprintable()
        ):
            raise BadRequest(f"iMIS mapping {name} needs a text of {least} to {longest} characters")
        if name == "record_link" and not value.strip().startswith(("{site}", "https://")):
            raise BadRequest("iMIS mapping record_link starts with {site} or https://")
        return value.strip()
    if name in _SWITCHES:
        if not isinstance(value, bool):
            raise BadRequest(f"iMIS mapping {name} is true or false")
        return value
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
                "(at most 10 letters, digits, _ and -)"
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
