"""The Connector protocol over the iMIS REST API (see ``wire``, ``client`` and ``mapping``).

Contacts are iMIS parties, found by their email addresses, searched with an
IQA query under the signed-in user's own token, and created as persons.
An Interaction is a communication-log entry for one recipient, with its
files as attachments; an Activity is an ``Activity`` entity. Every write
uses the background account's token, so iMIS shows that account as the
creator; mailfiler's ledger keeps who really saved it.

What iMIS cannot take is said in ``capabilities``, so it is shown before a
save: no files on an Activity (no REST endpoint for ``Activity_Attach`` was
found), no chosen date on an interaction (iMIS stamps its own write time),
and no Activities at all on the Professional edition.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from mailfiler.connectors.base import (
    Failed,
    MissingFile,
    Saved,
    Sending,
    Unsure,
    UserAccess,
    WriteOutcome,
)
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.client import (
    ImisClient,
    UserTokenEnded,
    WriteRefused,
    WriteUnsure,
)
from mailfiler.connectors.imis.mapping import ImisMapping
from mailfiler.core.addresses import address_key, looks_like_address, written_forms
from mailfiler.core.match import Contact
from mailfiler.core.options import ActivityField, ActivityType
from mailfiler.core.plan import Capabilities, PlannedFile, PlannedRecord
from mailfiler.errors import BadRequest, ConnectorUnavailable, NotFound

# Addresses asked for in one GET (the "in" operator, values separated by "|").
ADDRESSES_PER_CALL: Final = 20
# The Activity fields every type has (the notes: TRANSACTION_DATE, DESCRIPTION, NOTE).
_COMMON_FIELDS = (
    ("DESCRIPTION", "Description"),
    ("NOTE", "Notes"),
    ("TRANSACTION_DATE", "Activity date"),
)


class ImisCRM:
    def __init__(self, client: ImisClient, *, edition: str = "enterprise") -> None:
        self.client = client
        self.mapping: ImisMapping = client.mapping
        self.capabilities = Capabilities(
            crm="iMIS",
            activities=edition == "enterprise",
            activity_attachments=False,
            interaction_date=False,
        )

    # -- contacts -------------------------------------------------------------------

    def find_contacts(self, addresses: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        """Parties holding these addresses. iMIS is asked for each address as written and
        as its key (an internationalised domain may be held either way)."""
        wanted = {address_key(a) for a in addresses}
        asked = sorted({form for a in addresses for form in written_forms(a)})
        found: dict[str, list[Contact]] = {}
        seen: dict[str, set[str]] = {}
        for start in range(0, len(asked), ADDRESSES_PER_CALL):
            batch = asked[start : start + ADDRESSES_PER_CALL]
            params = {self.mapping.party_email_filter: "in:" + "|".join(batch)}
            for party in self.client.pages("/api/Party", params):
                contact = _contact(party)
                for email in contact.emails:
                    key = address_key(email)
                    if key in wanted and contact.id not in seen.setdefault(key, set()):
                        seen[key].add(contact.id)
                        found.setdefault(key, []).append(contact)
        return {key: sorted(contacts, key=lambda c: c.id) for key, contacts in found.items()}

    def search(
        self, query: str, *, limit: int = 20, as_user: UserAccess | None = None
    ) -> list[Contact]:
        text = query.strip()
        if not text:
            return []
        m = self.mapping
        params: dict[str, Any] = {"QueryName": m.search_query, "limit": limit, "offset": 0}
        params["parameter"] = [f"contains:{text}"] * m.search_parameter_count
        if as_user is not None and as_user.site != self.client.site:
            # The token was given by another address (the site changed since): it goes
            # nowhere but where it came from.
            raise UserTokenEnded("your iMIS sign-in was for another iMIS site: sign in again")
        body = self.client.get("/api/iqa", params, as_user=as_user.token if as_user else None)
        contacts = []
        for row in wire.page(body)[0][:limit]:
            values = wire.properties(row)
            contact_id = str(values.get(m.search_id_column) or "").strip()
            if not contact_id:
                continue
            email = str(values.get(m.search_email_column) or "").strip()
            contacts.append(
                Contact(
                    id=contact_id,
                    full_name=str(values.get(m.search_name_column) or ""),
                    organization=str(values.get(m.search_organization_column) or ""),
                    emails=(email,) if email else (),
                )
            )
        return contacts

    def contact(self, contact_id: str) -> Contact:
        party = None
        if contact_id.strip() and "/" not in contact_id:
            party = self.client.get(f"/api/Party/{contact_id.strip()}")
        if not isinstance(party, dict):
            raise NotFound(f"no contact {contact_id} in iMIS")
        return _contact(party)

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> Contact:
        first, _, last = full_name.strip().rpartition(" ")
        person: dict[str, Any] = {
            "$type": wire.PERSON,
            "PersonName": {
                "$type": wire.PERSON_NAME,
                "FirstName": first or last,
                "LastName": last if first else "",
            },
            "Emails": {
                "$type": wire.EMAILS,
                "$values": [
                    {"$type": wire.EMAIL, "Address": email, "EmailType": "_Primary" if n == 0
                     else "_Other", "IsPrimary": n == 0}
                    for n, email in enumerate(emails)
                ],
            },
        }  # fmt: skip
        if organization.strip():
            person["PrimaryOrganization"] = {
                "$type": wire.PRIMARY_ORGANIZATION,
                "Name": organization.strip(),
            }
        try:
            created = self.client.post("/api/Person", person)
        except WriteRefused as error:
            raise BadRequest(f"iMIS did not create the contact: {error}") from error
        except WriteUnsure as error:
            raise ConnectorUnavailable(str(error)) from error
        return _contact(created)

    # -- activity types ---------------------------------------------------------------

    def activity_types(self) -> list[ActivityType]:
        system = {code.upper() for code in self.mapping.system_activity_types}
        found = []
        for item in self.client.pages("/api/LegacyActivityType"):
            code = str(item.get("ActivityTypeId") or "").strip()
            if not code or code.upper() in system:
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
        if record.existing_record_id:  # written before without some files: send only those
            return self._attach_all(record.existing_record_id, record.files)
        m = self.mapping
        files: tuple[PlannedFile, ...] = ()
        if record.kind == "activity":
            if not self.capabilities.activities:
                return Failed("this iMIS edition (Professional) takes no Activities")
            properties: dict[str, Any] = {
                m.activity_type: record.activity_type or "",
                m.activity_contact: record.contact_id,
            }
            properties |= {
                name: self._as_imis(name, value) for name, value in record.fields.items() if value
            }
            entity = m.activity_entity
        else:
            properties = {
                m.interaction_contact: record.contact_id,
                m.interaction_subject: record.subject,
                m.interaction_body: record.body,
                m.interaction_to: record.to_line or "",
                m.interaction_message_type: m.interaction_message_type_value,
            }
            entity, files = m.interaction_entity, record.files
        # The files go after the record, each in a write of its own: if the
        # record's answer never comes, none of them was sent.
        unsent = tuple(f.filename for f in files)
        try:
            created = self.client.post(f"/api/{entity}", wire.generic_entity(entity, properties))
        except WriteRefused as error:
            return Failed(str(error))
        except WriteUnsure as error:
            return Unsure(str(error), unsent)
        record_id = wire.identity(created or {})
        if record_id is None:
            return Unsure("iMIS answered without the new record's ID", unsent)
        return self._attach_all(record_id, files)

    def _attach_all(self, record_id: str, files: Sequence[PlannedFile]) -> Saved:
        missing = tuple(problem for file in files if (problem := self._attach(record_id, file)))
        return Saved(record_id, missing)

    def _as_imis(self, name: str, value: str) -> str:
        """A date (stored with its zone) as iMIS takes it: the site's clock, no zone."""
        if ActivityField(name, name).kind != "date":
            return value
        moment = datetime.fromisoformat(value).astimezone(ZoneInfo(self.mapping.site_time_zone))
        return moment.strftime(wire.DATE_FORMAT)

    def _attach(self, record_id: str, file: PlannedFile) -> MissingFile | None:
        """One file on a communication-log entry; what went wrong, if anything."""
        m = self.mapping
        body = wire.generic_entity(
            m.interaction_attachment_entity,
            {m.attachment_record: record_id, m.attachment_name: file.filename,
             m.attachment_content: file.data},
        )  # fmt: skip
        try:
            self.client.post(f"/api/{m.interaction_attachment_entity}", body)
        except WriteRefused as error:
            return MissingFile(file.filename, f"iMIS did not take it ({error})")
        except WriteUnsure:
            return MissingFile(file.filename, "iMIS did not answer: it may not have been attached")
        except ConnectorUnavailable as error:
            return MissingFile(file.filename, str(error))
        return None


def _contact(party: Mapping[str, Any]) -> Contact:
    """A PersonData (or any party) as a contact."""
    contact_id = str(party.get("PartyId") or party.get("Id") or "")
    name = party.get("Name") or ""
    person = party.get("PersonName")
    if not name and isinstance(person, dict):
        name = (
            person.get("FullName")
            or " ".join(str(person.get(part) or "") for part in ("FirstName", "LastName")).strip()
        )
    emails = [str(e.get("Address") or "") for e in wire.values(party.get("Emails"))]
    if party.get("Email"):
        emails.insert(0, str(party["Email"]))
    organization = party.get("PrimaryOrganization")
    return Contact(
        id=contact_id,
        full_name=str(name),
        organization=str(organization.get("Name") or "") if isinstance(organization, dict) else "",
        emails=tuple(dict.fromkeys(e for e in emails if looks_like_address(e))),
    )
