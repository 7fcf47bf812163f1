"""The Connector protocol over the iMIS REST API (see ``parties``, ``writing``, ``client``).

Contacts are iMIS parties, found by their email addresses, searched with an
IQA query under the signed-in user's own token, and created as persons.
An Interaction is a communication-log entry for one recipient, with its
files inside the same write; an Activity is an ``Activity`` entity. Every
write uses the background account's token, so iMIS shows that account as
the creator; mailfiler's ledger keeps who really saved it.

What iMIS cannot take is said in ``capabilities``, so the plan shows it before a
save and the write never refuses for a reason the review could have shown: files
on an Activity only where the site's set-up check found ``LegacyActivityAttachment``,
no chosen date on an interaction (iMIS stamps its own write time), each Activity
field as the site describes it. (No Activities on the Professional edition is the
organisation's option, read by the plan: ``core.options.activity_action``.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from mailfiler.connectors.base import (
    Failed,
    Found,
    Sending,
    UserAccess,
    WriteOutcome,
    Written,
)
from mailfiler.connectors.imis.client import (
    ImisClient,
    UserTokenEnded,
    WriteRefused,
    WriteUnsure,
)
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.connectors.imis.parties import Parties, contact_of
from mailfiler.connectors.imis.writing import ADDRESS_MAX, Writer
from mailfiler.core.match import Contact
from mailfiler.core.options import ActivityField, ActivityType, FieldType, ValueType
from mailfiler.core.plan import Capabilities, PlannedRecord
from mailfiler.errors import BadRequest, ConnectorUnavailable, NotFound

# The Activity fields every type has (the notes: TRANSACTION_DATE, DESCRIPTION, NOTE).
_COMMON_FIELDS = (
    ("DESCRIPTION", "Description"),
    ("NOTE", "Notes"),
    ("TRANSACTION_DATE", "Activity date"),
)
CODE_MAX: Final = 10  # Activity.ACTIVITY_TYPE varchar(10)


class ImisCRM:
    def __init__(
        self,
        client: ImisClient,
        *,
        site: Mapping[str, Any] | None = None,
    ) -> None:
        """``site``: what the set-up check learnt of the site (``check.SiteFacts``)."""
        self.client = client
        self.mapping: ImisMapping = client.mapping
        facts = site or {}
        self.parties = Parties(client)
        # What the site's metadata says each Activity property takes (the set-up check's).
        described = field_types(facts.get("activity_properties") or {})
        self.writer = Writer(
            client, self.parties, activity_files=bool(facts.get("activity_attachments")),
            described=described,
        )  # fmt: skip
        self.capabilities = Capabilities(
            crm="iMIS",
            activity_attachments=self.writer.activity_files,
            interaction_date=False,
            interaction_address_max=ADDRESS_MAX,
            # PrimaryOrganization with only a Name may not link to an organisation record.
            new_contact_note=_new_contact_note(self.mapping.new_address_purpose),
            activity_field_types=described,
        )

    # -- contacts -------------------------------------------------------------------

    def find_contacts(self, addresses: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        return self.parties.holding(addresses)

    def search(
        self, query: str, *, limit: int = 20, as_user: UserAccess | None = None
    ) -> list[Contact]:
        text = query.strip()
        if not text:
            return []
        if as_user is not None and as_user.site != self.client.site:
            # The token was given by another address (the site changed since): it goes
            # nowhere but where it came from.
            raise UserTokenEnded("your iMIS sign-in was for another iMIS site: sign in again")
        return self.parties.search(text, limit, as_user.token if as_user else None)

    def contact(self, contact_id: str) -> Contact:
        party = self.parties.one(contact_id)
        if party is None:
            raise NotFound(f"no contact {contact_id} in iMIS")
        return contact_of(party)

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> Contact:
        person = self.parties.create(full_name, emails, organization)
        try:
            created = self.client.post("/api/Person", person)
        except WriteRefused as error:
            raise BadRequest(f"iMIS did not create the contact: {error}") from error
        except WriteUnsure as error:
            raise ConnectorUnavailable(str(error)) from error
        return contact_of(created if isinstance(created, dict) else {})

    # -- activity types ---------------------------------------------------------------

    def activity_types(self) -> list[ActivityType]:
        """The site's activity types that may be filed: no system type, a real code (at most
        10 characters), and only the fields the type has a prompt for (with the prompt as
        its label), besides those every Activity has."""
        system = {code.upper() for code in self.mapping.system_activity_types}
        described = self.capabilities.activity_field_types
        found = []
        for item in self.client.pages("/api/LegacyActivityType"):
            code = str(item.get("ActivityTypeId") or "").strip()
            if not code or code.upper() in system or len(code) > CODE_MAX:
                continue
            fields = [ActivityField(name, label) for name, label in _COMMON_FIELDS]
            if item.get("NotePrompt"):
                fields[1] = ActivityField("NOTE", str(item["NotePrompt"]))
            if item.get("SourcePrompt"):
                fields.append(ActivityField("SOURCE_CODE", str(item["SourcePrompt"])))
            for n in range(1, 8):
                prompt = item.get(f"Uf{n}Prompt")
                if prompt:
                    fields.append(ActivityField(f"UF_{n}", str(prompt)))
            if described:  # the site said which properties it has, and their types
                fields = [f.as_described(described) for f in fields if f.name in described]
            found.append(
                ActivityType(
                    code=code, name=str(item.get("Description") or code), fields=tuple(fields)
                )
            )
        return found

    # -- writing --------------------------------------------------------------------

    def write(
        self, records: Sequence[PlannedRecord], sending: Sending = lambda record: None
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for number, record in enumerate(records):
            if stop := sending(record):
                outcomes.append(Failed(stop))
                continue
            try:
                outcomes.append(self._write(record))
            except ConnectorUnavailable as error:
                # iMIS cannot be reached, or refuses the background account: the
                # records not tried yet are not tried at all.
                outcomes += [Failed(str(error)) for _ in records[number:]]
                break
        return outcomes

    def _write(self, record: PlannedRecord) -> WriteOutcome:
        if record.kind == "activity":
            if record.existing_record_id:
                return self.writer.attach_to_activity(record.existing_record_id, record.files)
            return self.writer.activity(record)
        if record.existing_record_id:  # written before without some files: only those
            return self.writer.attach(record.existing_record_id, record.files)
        return self.writer.interaction(record)

    def look_for(self, written: Written) -> Found:
        return self.writer.look_for(written)


def _new_contact_note(purpose: str) -> str:
    """What adding a contact to iMIS cannot promise, said before it is added."""
    note = (
        "iMIS takes the organisation by its name only: it may not be linked to the "
        "organisation's own record, so check it in iMIS"
    )
    if not purpose:
        note += (
            ". Only the first email address is kept: no address purpose is set for others "
            "(an administrator sets one: imis.new_address_purpose)"
        )
    return note


# What iMIS's metadata names a property's type (``PropertyTypeName``, or its contract's name).
_NUMBERS = {"decimal", "double", "single", "int16", "int32", "int64", "integer", "number"}
_DATES = {"datetime", "date", "datetimeoffset"}


def field_types(properties: Mapping[str, str]) -> dict[str, FieldType]:
    """What each Activity property takes, as the site's metadata says ("String(255)",
    "Decimal", "DateTime"): its value type and longest text, None where it does not say."""
    found: dict[str, FieldType] = {}
    for name, said in properties.items():
        base, _, rest = said.partition("(")
        length = rest.rstrip(")")
        takes: ValueType | None = None
        if base.strip().lower() in _NUMBERS:
            takes = "number"
        elif base.strip().lower() in _DATES:
            takes = "date"
        elif base.strip().lower() == "string":
            takes = "text"
        found[name] = (takes, int(length) if length.isdigit() and int(length) > 0 else None)
    return found
