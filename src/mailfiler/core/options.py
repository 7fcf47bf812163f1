"""An organisation's options (the product's Options screen) and what they let a user do.

Roles lists name CRM roles; an empty list means "every signed-in user", which
is how a new organisation starts, except for the screens that protect the
organisation itself (change options, add contacts), which start at SysAdmin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

from mailfiler.errors import BadRequest

Edition = Literal["enterprise", "professional"]
EDITIONS: tuple[Edition, ...] = ("enterprise", "professional")

# Activity types that belong to iMIS itself (dues, orders, sales, meetings...):
# an email is never filed as one (the product page: "never system types such
# as DUES, ORDER, SALES"). These are the codes the notes list (an activity type
# code holds at most 10 characters: a longer name can never be one).
SYSTEM_ACTIVITY_TYPES = (
    "DUES", "ORDER", "SALES", "MEETING", "CERTIFICAT", "CERTIFY", "DONORCLUB", "EXPO",
    "REFUND",
)  # fmt: skip

# What the field mapping can take from a message.
TOKENS = ("subject", "body", "sender", "recipients", "sent_on")

ActionState = Literal["allowed", "hidden", "refused"]


ValueType = Literal["text", "date", "number"]  # what an Activity field takes
# What a CRM says a field takes: its value type and longest text, None where it does not say.
FieldType = tuple[ValueType | None, int | None]

# What an Activity field takes, by its iMIS name (the Activity table's columns):
# dates are instants, written with their zone; texts have iMIS's column lengths.
# (imis-notes.md: UF_1-UF_3 varchar(255), UF_4/UF_5 decimal, UF_6/UF_7 datetime.)
_DATE_FIELDS = frozenset({"TRANSACTION_DATE", "EFFECTIVE_DATE", "THRU_DATE", "UF_6", "UF_7"})
_NUMBER_FIELDS = frozenset({"UNITS", "AMOUNT", "QUANTITY", "UF_4", "UF_5"})
_TEXT_LENGTHS = {
    "DESCRIPTION": 255, "SOURCE_CODE": 40, "OTHER_PARTICIPANTS": 255,
    "UF_1": 255, "UF_2": 255, "UF_3": 255,
}  # fmt: skip


@dataclass(frozen=True)
class ActivityField:
    name: str
    label: str
    # What the CRM itself says the field takes, where it says (iMIS's metadata): it wins
    # over the table above.
    site_takes: ValueType | None = None
    site_length: int | None = None

    @property
    def takes(self) -> ValueType:
        if self.site_takes is not None:
            return self.site_takes
        if self.name.upper() in _DATE_FIELDS:
            return "date"
        if self.name.upper() in _NUMBER_FIELDS:
            return "number"
        return "text"

    @property
    def max_length(self) -> int | None:
        if self.site_length is not None:
            return self.site_length
        return _TEXT_LENGTHS.get(self.name.upper())

    def as_described(self, described: Mapping[str, FieldType]) -> ActivityField:
        """The field with what the CRM says it takes, where it says."""
        takes, length = described.get(self.name, (None, None))
        if takes is None and length is None:
            return self
        return replace(self, site_takes=takes, site_length=length)

    def checked(self, value: str, typed: bool = True) -> str:
        """The value as it is stored: a date with its zone, a number, a text within its
        length; ``BadRequest`` naming the field and the reason otherwise. What was not
        typed by a person (taken from the message) is cut to fit instead, ending "…"."""
        text = value.strip()
        if not text:
            return ""
        where = f"{self.label or self.name} ({self.name})"
        if self.takes == "date":
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as error:
                raise BadRequest(
                    f"{where}: {value!r} is not a date and time; give one like "
                    "2026-11-05T10:00+01:00"
                ) from error
            if moment.tzinfo is None:  # a time without a zone is read as UTC
                moment = moment.replace(tzinfo=UTC)
            return moment.isoformat()
        if self.takes == "number":
            try:
                number = float(text)
            except ValueError as error:
                raise BadRequest(f"{where}: {value!r} is not a number") from error
            return str(int(number)) if number.is_integer() else str(number)
        limit = self.max_length
        if limit is not None and len(value) > limit:
            if not typed:
                return value[: limit - 1] + "…"
            raise BadRequest(f"{where}: holds at most {limit} characters, not {len(value)}")
        return value


@dataclass(frozen=True)
class ActivityType:
    code: str
    name: str
    fields: tuple[ActivityField, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    # message token (TOKENS) -> field name: which part of the message fills which field
    mapping: Mapping[str, str] = field(default_factory=dict)
    roles: tuple[str, ...] = ()

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# The iMIS Activity fields (see spec/imis-notes.md), set up the way the
# product's "Setup Activity Types" example maps them.
EMAIL_ACTIVITY = ActivityType(
    code="EMAIL",
    name="Email",
    fields=(
        ActivityField("DESCRIPTION", "Description"),
        ActivityField("NOTE", "Notes"),
        ActivityField("TRANSACTION_DATE", "Activity date"),
        ActivityField("OTHER_PARTICIPANTS", "Other participants"),
        ActivityField("SOURCE_CODE", "Source"),
    ),
    defaults={"SOURCE_CODE": "EMAIL"},
    mapping={
        "subject": "DESCRIPTION",
        "body": "NOTE",
        "sent_on": "TRANSACTION_DATE",
        "recipients": "OTHER_PARTICIPANTS",
    },
)


@dataclass(frozen=True)
class Options:
    profile_url: str = ""
    interaction_roles: tuple[str, ...] = ()
    hide_interaction: bool = False
    activity_roles: tuple[str, ...] = ()
    add_contact_roles: tuple[str, ...] = ("SysAdmin",)
    change_options_roles: tuple[str, ...] = ("SysAdmin",)
    allow_duplicates: bool = False
    # A cap on the contacts one save may write to: filing a newsletter to a
    # thousand recipients is a mistake worth stopping.
    max_total_emails: int = 50
    edition: Edition = "enterprise"
    activity_types: tuple[ActivityType, ...] = (EMAIL_ACTIVITY,)
    default_activity_type: str = "EMAIL"

    def activity_type(self, code: str | None) -> ActivityType:
        wanted = code or self.default_activity_type
        for activity_type in self.activity_types:
            if activity_type.code.lower() == wanted.lower():
                return activity_type
        offered = ", ".join(t.code for t in self.activity_types) or "none"
        raise BadRequest(f"no activity type {wanted!r} is set up; offered: {offered}")

    def profile_link(self, contact_id: str) -> str | None:
        if not self.profile_url:
            return None
        return self.profile_url.replace("{id}", contact_id)

    # -- storage form ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["activity_types"] = [
            {
                **asdict(t),
                # what a CRM says a field takes is its own, read afresh: never kept here
                "fields": [{"name": f.name, "label": f.label} for f in t.fields],
                "defaults": dict(t.defaults),
                "mapping": dict(t.mapping),
            }
            for t in self.activity_types
        ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise BadRequest(f"unknown option(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "activity_types":
                values[name] = tuple(_activity_type(t) for t in value)
            elif name.endswith("_roles"):  # blank entries of a role box are no role
                values[name] = tuple(dict.fromkeys(str(r).strip() for r in value if str(r).strip()))
            else:
                values[name] = value
        return validate(replace(cls(), **values))


def _activity_type(data: Mapping[str, Any]) -> ActivityType:
    try:
        return ActivityType(
            code=str(data["code"]),
            name=str(data.get("name") or data["code"]),
            fields=tuple(
                ActivityField(str(f["name"]), str(f.get("label") or f["name"]))
                for f in data.get("fields", ())
            ),
            defaults={str(k): str(v) for k, v in dict(data.get("defaults", {})).items()},
            mapping={str(k): str(v) for k, v in dict(data.get("mapping", {})).items()},
            roles=tuple(str(r) for r in data.get("roles", ())),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise BadRequest(f"an activity type is incomplete: {error}") from error


def validate(options: Options) -> Options:
    """Refuse options that would make saving fail later, with the reason."""
    if options.edition not in EDITIONS:
        raise BadRequest(f"edition must be one of {', '.join(EDITIONS)}")
    if not isinstance(options.max_total_emails, int) or options.max_total_emails < 1:
        raise BadRequest("max total emails must be a whole number of at least 1")
    if options.profile_url and "{id}" not in options.profile_url:
        raise BadRequest("the profile URL needs an {id} placeholder for the contact's ID")
    codes = [t.code.lower() for t in options.activity_types]
    if len(set(codes)) != len(codes):
        raise BadRequest("two activity types have the same code")
    for activity_type in options.activity_types:
        if activity_type.code.strip().upper() in SYSTEM_ACTIVITY_TYPES:
            raise BadRequest(
                f"{activity_type.code} is a system activity type (one of "
                f"{', '.join(SYSTEM_ACTIVITY_TYPES)}): emails are filed as an email type"
            )
    for activity_type in options.activity_types:
        names = activity_type.field_names()
        for token, target in activity_type.mapping.items():
            if token not in TOKENS:
                raise BadRequest(
                    f"activity type {activity_type.code}: unknown message token {token!r}; "
                    f"tokens are {', '.join(TOKENS)}"
                )
            if target not in names:
                raise BadRequest(
                    f"activity type {activity_type.code}: {token} maps to {target!r}, "
                    "which is not one of its fields"
                )
        for name in activity_type.defaults:
            if name not in names:
                raise BadRequest(
                    f"activity type {activity_type.code}: default for unknown field {name!r}"
                )
    if options.activity_types:
        options.activity_type(options.default_activity_type)
    return options


# -- what a user may do -------------------------------------------------------


def has_role(allowed: tuple[str, ...], roles: frozenset[str]) -> bool:
    """Empty ``allowed`` means everyone. Role names compare case-insensitively, as in iMIS."""
    if not allowed:
        return True
    return bool({r.lower() for r in allowed} & {r.lower() for r in roles})


@dataclass(frozen=True)
class Action:
    state: ActionState
    reason: str = ""


def _roles_text(allowed: tuple[str, ...], roles: frozenset[str]) -> str:
    mine = ", ".join(sorted(roles)) or "none"
    return f"needs one of the roles {', '.join(allowed)}; yours: {mine}"


def interaction_action(options: Options, roles: frozenset[str]) -> Action:
    if options.hide_interaction:
        return Action("hidden", "your organisation hides Save as Interaction")
    if not has_role(options.interaction_roles, roles):
        return Action(
            "hidden",
            "saving Interactions " + _roles_text(options.interaction_roles, roles),
        )
    return Action("allowed")


def activity_action(
    options: Options, roles: frozenset[str], activity_type: ActivityType | None = None
) -> Action:
    if options.edition == "professional":
        return Action(
            "refused",
            "your organisation's edition (iMIS EMS Professional) cannot save Activities",
        )
    if not options.activity_types:
        return Action("refused", "no activity type is set up for your organisation")
    if not has_role(options.activity_roles, roles):
        return Action("hidden", "saving Activities " + _roles_text(options.activity_roles, roles))
    if activity_type is not None and not has_role(activity_type.roles, roles):
        return Action(
            "refused",
            f"saving {activity_type.name} Activities " + _roles_text(activity_type.roles, roles),
        )
    return Action("allowed")


def add_contact_action(options: Options, roles: frozenset[str]) -> Action:
    if not has_role(options.add_contact_roles, roles):
        return Action("hidden", "adding contacts " + _roles_text(options.add_contact_roles, roles))
    return Action("allowed")


def may_change_options(options: Options, roles: frozenset[str]) -> bool:
    return has_role(options.change_options_roles, roles)
