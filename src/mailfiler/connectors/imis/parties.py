"""iMIS parties as mailfiler's contacts: found by address, searched with an IQA query, made.

From ../shared/spec/imis-notes.md, "What ASI's own libraries show":
- by address, ``GET /api/Party?email=in:a|b`` (the documented lower-case name; pages of up
  to 500), each party matched again here on every address it holds; whether the filter
  sees addresses other than the primary one is unknown, so a setting asks each address
  with the ``FindByEmail`` operation instead;
- the search, ``GET /api/iqa?QueryName=…&parameter=<text>``: ``QueryName`` first, plain
  values (iMIS refuses operators), under the user's own token; its columns found as ASI's
  Outlook Integration guide asks (an ID, a full name, the first column holding "Email");
- a new person: only ``_Primary`` is confirmed as an address type; a further address
  takes one of the site's address purposes, as the organisation sets it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Final

from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.client import ImisClient, SiteRefused
from mailfiler.core.addresses import address_key, looks_like_address, written_forms
from mailfiler.core.match import Contact
from mailfiler.errors import BadRequest

# Addresses asked for in one GET (the "in" operator, values separated by "|").
ADDRESSES_PER_CALL: Final = 20
# The columns of a search query, by what they are, in the order they are looked for.
ID_COLUMNS: Final = ("ID", "Id", "iMIS ID", "PartyId", "ContactId", "ContactKey")
NAME_COLUMNS: Final = ("FullName", "Full Name")
ORGANIZATION_COLUMNS: Final = ("Organization", "Company", "Institute")


def contact_of(party: Mapping[str, Any]) -> Contact:
    """A ``PersonData`` (or any party) as a contact."""
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


class Parties:
    """The parties of one site, as one organisation's background account reads them.

    Keeps each party's ``UniformId`` (its GUID key) as it is read: an interaction names
    its recipient by it.
    """

    def __init__(self, client: ImisClient) -> None:
        self.client = client
        self.uniform_ids: dict[str, str] = {}

    def _seen(self, party: Mapping[str, Any]) -> Contact:
        contact = contact_of(party)
        if isinstance(party.get("UniformId"), str) and contact.id:
            self.uniform_ids[contact.id] = party["UniformId"]
        return contact

    # -- by address --------------------------------------------------------------------

    def holding(self, addresses: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        """Every party holding each address, by the address's key. iMIS is asked for each
        address as written and as its key (an internationalised domain may be held either
        way); what it answers is matched again here, on every address of each party."""
        wanted = {address_key(a) for a in addresses}
        asked = sorted({form for a in addresses for form in written_forms(a)})
        found: dict[str, dict[str, Contact]] = {}
        for party in self._asked(asked):
            contact = self._seen(party)
            for email in contact.emails:
                key = address_key(email)
                if key in wanted:
                    found.setdefault(key, {})[contact.id] = contact
        return {key: sorted(held.values(), key=lambda c: c.id) for key, held in found.items()}

    def _asked(self, addresses: list[str]) -> Iterator[Mapping[str, Any]]:
        m = self.client.mapping
        # "|" separates the values of a filter: an address holding one is asked alone.
        alone = [a for a in addresses if "|" in a] if not m.find_by_email else addresses
        together = [a for a in addresses if a not in alone]
        for start in range(0, len(together), ADDRESSES_PER_CALL):
            batch = together[start : start + ADDRESSES_PER_CALL]
            params = {m.party_email_filter: "in:" + "|".join(batch)}
            yield from self.client.pages("/api/Party", params)
        for address in alone:
            body = {
                "$type": wire.FIND_BY_EMAIL,
                "EntityTypeName": "Party",
                "OperationName": "FindByEmail",
                "Email": address,
            }
            answer = self.client.ask("/api/Party/_execute", body)
            result = answer.get("Result") if isinstance(answer, dict) else answer
            yield from (p for p in wire.values(result) if isinstance(p, dict))

    def one(self, contact_id: str) -> Mapping[str, Any] | None:
        """A party by its ID, or None."""
        if not contact_id.strip() or "/" in contact_id or "?" in contact_id:
            return None
        party = self.client.get(f"/api/Party/{contact_id.strip()}")
        if not isinstance(party, dict):
            return None
        self._seen(party)
        return party

    def uniform_id(self, contact_id: str) -> str | None:
        """The party's GUID key, read from iMIS when it was not seen yet."""
        if contact_id not in self.uniform_ids:
            self.one(contact_id)
        return self.uniform_ids.get(contact_id)

    # -- the search ----------------------------------------------------------------------

    def search(self, text: str, limit: int, token: str | None) -> list[Contact]:
        m = self.client.mapping
        query = m.search_query
        if not query:
            raise BadRequest(
                "contact search in iMIS is not set up for your organisation yet: an "
                "administrator gives its IQA query in Options (imis.search_query)"
            )
        # QueryName must come first; the parameter is a plain value (the query's own
        # filter, Contains or Starts with, does the matching).
        params: dict[str, Any] = {"QueryName": query, "parameter": text, "limit": limit}
        try:
            body = self.client.get("/api/iqa", params, as_user=token)
        except SiteRefused as refused:
            if "not found" in str(refused).lower():
                raise BadRequest(
                    f"the contact search query {query} does not exist in iMIS: an "
                    "administrator sets it in Options (imis.search_query)"
                ) from refused
            raise
        rows = [wire.properties(row) for row in wire.page(body)[0][:limit]]
        columns = search_columns(rows[0].keys() if rows else (), m)
        contacts = []
        for values in rows:
            contact_id = str(values.get(columns.get("id", "")) or "").strip()
            if not contact_id:
                continue
            email = str(values.get(columns.get("email", "")) or "").strip()
            contacts.append(
                Contact(
                    id=contact_id,
                    full_name=str(values.get(columns.get("name", "")) or ""),
                    organization=str(values.get(columns.get("organization", "")) or ""),
                    emails=(email,) if looks_like_address(email) else (),
                )
            )
        return contacts

    # -- a new person ----------------------------------------------------------------------

    def create(self, full_name: str, emails: Sequence[str], organization: str) -> dict[str, Any]:
        """The ``PersonData`` of a new contact: the first address ``_Primary``, the others
        with the organisation's address purpose (none set: only the first is sent)."""
        first, _, last = full_name.strip().rpartition(" ")
        purpose = self.client.mapping.new_address_purpose
        kept = list(emails[:1]) + (list(emails[1:]) if purpose else [])
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
                    {"$type": wire.EMAIL, "Address": email,
                     "EmailType": "_Primary" if n == 0 else purpose, "IsPrimary": n == 0}
                    for n, email in enumerate(kept)
                ],
            },
        }  # fmt: skip
        if organization.strip():
            person["PrimaryOrganization"] = {
                "$type": wire.PRIMARY_ORGANIZATION,
                "Name": organization.strip(),
            }
        return person


def search_columns(names: Collection[str], mapping: Any) -> dict[str, str]:
    """Which column of a search query is what: "id", "name", "email", "organization"
    (a column the mapping names wins; otherwise as ASI's Outlook Integration guide asks)."""
    found: dict[str, str] = {}
    given = {
        "id": mapping.search_id_column,
        "name": mapping.search_name_column,
        "email": mapping.search_email_column,
        "organization": mapping.search_organization_column,
    }
    usual = {"id": ID_COLUMNS, "name": NAME_COLUMNS, "organization": ORGANIZATION_COLUMNS}
    for role, column in given.items():
        if column:
            found[role] = column
        elif role == "email":
            email = next((n for n in names if "email" in n.lower()), None)
            if email:
                found[role] = email
        else:
            match = next((c for c in usual[role] if c in names), None)
            if match:
                found[role] = match
    return found
