"""The built-in CRM as a connector: contacts and records in mailfiler's own database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    case,
    func,
    insert,
    join,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session

from mailfiler.clock import Clock, system_clock
from mailfiler.connectors.base import Capabilities, Lookup, StoredFile, StoredRecord
from mailfiler.connectors.builtin.tables import (
    Activity,
    Blob,
    Contact,
    ContactEmail,
    Interaction,
    StoredAttachment,
)
from mailfiler.core import match
from mailfiler.core.addresses import address_key, looks_like_address
from mailfiler.core.filenames import clean_filename
from mailfiler.core.mime_params import clean_content_id, clean_content_type
from mailfiler.core.plan import Kind, PlannedFile, PlannedRecord, SavePlan
from mailfiler.errors import BadRequest, Conflict, NotFound
from mailfiler.storage.blobs import BlobStore, sha256_of
from mailfiler.storage.database import rows
from mailfiler.storage.tables import Organisation

_RECORD_TABLES: dict[Kind, type[Interaction] | type[Activity]] = {
    "interaction": Interaction,
    "activity": Activity,
}


# The statements every message read runs, built once (building and caching
# a statement each time costs SQLAlchemy more than PostgreSQL spends on it).
# Columns, not entities, for the same reason.
def _by_address(
    postgres: bool, records: type[Interaction] | type[Activity] | None = None
) -> Select[str, str, str, str, int | None]:
    """Contacts holding any of the addresses ("keys"); with ``records``, also the
    first record of that kind this message ("message_key") was filed as for each."""
    if postgres:  # "= ANY(array)": one statement text whatever the number of addresses
        array = bindparam("keys", type_=postgresql.ARRAY(String))
        one_of = ContactEmail.address_key == any_(array)
    else:
        one_of = ContactEmail.address_key.in_(bindparam("keys", expanding=True))
    tables = join(ContactEmail, Contact, Contact.id == ContactEmail.contact_pk)
    record_id: Any = null()
    if records is not None:
        # By message first (an index; almost always no rows), then to the contacts found.
        first = (
            select(records.contact_pk, func.min(records.id).label("record_id"))
            .where(
                records.organisation_id == bindparam("organisation_id"),
                records.message_key == bindparam("message_key"),
            )
            .group_by(records.contact_pk)
            .subquery()
        )
        tables = tables.outerjoin(first, first.c.contact_pk == Contact.id)
        record_id = first.c.record_id
    return (
        select(
            ContactEmail.address_key,
            Contact.contact_id,
            Contact.full_name,
            Contact.organization,
            record_id,
        )
        .select_from(tables)
        .where(ContactEmail.organisation_id == bindparam("organisation_id"), one_of)
        .order_by(Contact.contact_id)
    )


_BY_ADDRESS = {postgres: _by_address(postgres) for postgres in (True, False)}
_BY_ADDRESS_AND_FILED = {
    (kind, postgres): _by_address(postgres, table)
    for kind, table in _RECORD_TABLES.items()
    for postgres in (True, False)
}


def _filed(table: type[Interaction] | type[Activity]) -> Select[str, int]:
    return (
        select(Contact.contact_id, func.min(table.id))
        .join(Contact, Contact.id == table.contact_pk)
        .where(
            table.organisation_id == bindparam("organisation_id"),
            table.message_key == bindparam("message_key"),
        )
        .group_by(Contact.contact_id)
    )


_FILED: dict[Kind, Select[str, int]] = {kind: _filed(t) for kind, t in _RECORD_TABLES.items()}


class SaveRace(Conflict):
    """Another save wrote the same message to the same contact first; try the save again."""


@dataclass(frozen=True)
class ContactRow:
    """A contact as the CSV import gives it."""

    contact_id: str
    full_name: str
    emails: tuple[str, ...]
    organization: str = ""


class BuiltinCRM:
    capabilities = Capabilities()

    def __init__(
        self,
        session: Session,
        organisation_id: int,
        blobs: BlobStore,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self.session = session
        self.organisation_id = organisation_id
        self.blobs = blobs
        self.clock = clock

    # -- contacts -----------------------------------------------------------

    def contacts_by_address(self, keys: Collection[str]) -> Mapping[str, Sequence[match.Contact]]:
        return self._look_up(_BY_ADDRESS[self._postgres()], keys, "").contacts

    def look_up(self, keys: Collection[str], kind: Kind, message_key: str) -> Lookup:
        # One statement for both questions: every message read asks them.
        statement = _BY_ADDRESS_AND_FILED[(kind, self._postgres())]
        return self._look_up(statement, keys, message_key)

    def _look_up(
        self,
        statement: Select[str, str, str, str, int | None],
        keys: Collection[str],
        message_key: str,
    ) -> Lookup:
        if not keys:
            return Lookup({}, {})
        parameters = {
            "organisation_id": self.organisation_id,
            "keys": sorted(keys),
            "message_key": message_key,
        }
        found: dict[str, list[match.Contact]] = defaultdict(list)
        filed: dict[str, str] = {}
        for key, contact_id, full_name, organization, record_id in rows(
            self.session, statement, parameters
        ):
            found[key].append(match.Contact(contact_id, full_name, organization))
            if record_id is not None:
                filed[contact_id] = str(record_id)
        return Lookup(found, filed)

    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _one_of(self, column: Mapped[str], values: Collection[str]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL as ``= ANY(array)``, one statement text
        whatever the number of values, so the server keeps its plan prepared."""
        if self._postgres():
            array = bindparam("values", sorted(values), type_=postgresql.ARRAY(String))
            return column == any_(array)
        return column.in_(sorted(values))

    def search(self, query: str, limit: int = 20) -> list[match.Contact]:
        text = query.strip().lower()
        if not text:
            return []
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        by_address = select(ContactEmail.contact_pk).where(
            ContactEmail.organisation_id == self.organisation_id,
            ContactEmail.address_key.like(pattern, escape="\\"),
        )
        rows = self.session.scalars(
            self._contacts()
            .where(
                or_(
                    Contact.full_name_key.like(pattern, escape="\\"),
                    Contact.contact_id == query.strip(),
                    Contact.id.in_(by_address),
                )
            )
            .order_by(Contact.full_name_key, Contact.contact_id)
            .limit(limit)
        ).all()
        return self._with_emails(rows)

    def contact(self, contact_id: str) -> match.Contact:
        row = self._row(contact_id)
        return self._with_emails([row])[0]

    def create_contact(
        self,
        full_name: str,
        emails: Sequence[str],
        organization: str = "",
        contact_id: str | None = None,
    ) -> match.Contact:
        if contact_id is None:
            contact_id = self._next_contact_id()
        elif self._exists(contact_id):
            raise Conflict(f"a contact with ID {contact_id} exists already")
        self.upsert_contacts([ContactRow(contact_id, full_name, tuple(emails), organization)])
        return self.contact(contact_id)

    def upsert_contacts(self, rows: Iterable[ContactRow]) -> tuple[int, int]:
        """Add or update contacts by ID (their addresses replaced); returns (added, updated)."""
        added = updated = highest = 0
        for row in rows:
            _check_contact(row)
            highest = max(highest, _number(row.contact_id) or 0)
            contact = self.session.scalar(
                self._contacts().where(Contact.contact_id == row.contact_id)
            )
            if contact is None:
                contact = Contact(organisation_id=self.organisation_id, contact_id=row.contact_id)
                self.session.add(contact)
                added += 1
            else:
                updated += 1
                for old in self.session.scalars(
                    select(ContactEmail).where(ContactEmail.contact_pk == contact.id)
                ):
                    self.session.delete(old)
            contact.full_name = row.full_name.strip()
            contact.full_name_key = row.full_name.strip().lower()
            contact.organization = row.organization.strip()
            contact.updated_at = self.clock()
            self.session.flush()
            keys: set[str] = set()
            for position, address in enumerate(row.emails):
                key = address_key(address)
                if key in keys:
                    continue
                keys.add(key)
                self.session.add(
                    ContactEmail(
                        contact_pk=contact.id,
                        organisation_id=self.organisation_id,
                        address=address.strip(),
                        address_key=key,
                        position=position,
                    )
                )
            self.session.flush()
        self._raise_counter(highest)  # new contacts are numbered after these
        return added, updated

    def _next_contact_id(self) -> str:
        number = self.session.execute(
            update(Organisation)
            .where(Organisation.id == self.organisation_id)
            .values(
                last_contact_number=case(
                    (Organisation.last_contact_number == 0, FIRST_NUMBER),
                    else_=Organisation.last_contact_number + 1,
                )
            )
            .returning(Organisation.last_contact_number)
        ).scalar_one()
        if self._exists(str(number)):
            # Contacts were numbered around the counter (loaded straight into
            # the database, say): catch up with them, reading every ID once.
            ids = self.session.scalars(self._contacts().with_only_columns(Contact.contact_id))
            number = max((_number(i) or 0 for i in ids), default=0) + 1
            self._raise_counter(number)
        return str(number)

    def _raise_counter(self, number: int) -> None:
        self.session.execute(
            update(Organisation)
            .where(
                Organisation.id == self.organisation_id,
                Organisation.last_contact_number < number,
            )
            .values(last_contact_number=number)
        )

    def _exists(self, contact_id: str) -> bool:
        found = self.session.scalar(
            self._contacts().with_only_columns(Contact.id).where(Contact.contact_id == contact_id)
        )
        return found is not None

    def _contacts(self) -> Select[Contact]:
        return select(Contact).where(Contact.organisation_id == self.organisation_id)

    def _row(self, contact_id: str) -> Contact:
        row = self.session.scalar(self._contacts().where(Contact.contact_id == contact_id))
        if row is None:
            raise NotFound(f"no contact {contact_id} in this organisation")
        return row

    def _with_emails(self, rows: Sequence[Contact]) -> list[match.Contact]:
        emails: dict[int, list[str]] = defaultdict(list)
        for pk, address in self.session.execute(
            select(ContactEmail.contact_pk, ContactEmail.address)
            .where(ContactEmail.contact_pk.in_([r.id for r in rows]))
            .order_by(ContactEmail.position)
        ):
            emails[pk].append(address)
        return [_contact(r, tuple(emails[r.id])) for r in rows]

    # -- records --------------------------------------------------------------

    def already_filed(
        self, kind: Kind, message_key: str, contact_ids: Collection[str]
    ) -> dict[str, str]:
        if not contact_ids:
            return {}
        rows = self.session.connection().execute(
            _FILED[kind], {"organisation_id": self.organisation_id, "message_key": message_key}
        )
        wanted = set(contact_ids)
        return {cid: str(record_id) for cid, record_id in rows if cid in wanted}

    def apply(self, plan: SavePlan) -> dict[str, str]:
        if not plan.records:
            return {}
        pks = dict(
            self.session.execute(
                select(Contact.contact_id, Contact.id).where(
                    Contact.organisation_id == self.organisation_id,
                    self._one_of(Contact.contact_id, [r.contact_id for r in plan.records]),
                )
            ).all()
        )
        missing = [r.contact_id for r in plan.records if r.contact_id not in pks]
        if missing:
            raise NotFound(f"contact {missing[0]} was removed during the save")
        digests = self._store_files(plan.records[0].files)
        kind = plan.records[0].kind
        table = _RECORD_TABLES[kind]
        rows = [self._record_values(record, pks[record.contact_id]) for record in plan.records]
        try:
            # One INSERT for every record of the save (a message to 28 contacts
            # is 28 records), the new IDs back in the order given.
            inserted = (
                self.session.execute(
                    insert(table).returning(table.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            owner = "interaction_id" if kind == "interaction" else "activity_id"
            files = [
                {
                    "organisation_id": self.organisation_id,
                    "interaction_id": None,
                    "activity_id": None,
                    owner: record_id,
                    "position": position,
                    "filename": file.filename,
                    "content_type": file.content_type,
                    "size": file.size,
                    "sha256": digest,
                    "content_id": file.content_id,
                }
                for record, record_id in zip(plan.records, inserted, strict=True)
                for position, (file, digest) in enumerate(zip(record.files, digests, strict=True))
            ]
            if files:
                self.session.execute(insert(StoredAttachment), files)
        except IntegrityError as error:
            raise SaveRace("another save filed this message at the same moment") from error
        return {r.contact_id: str(i) for r, i in zip(plan.records, inserted, strict=True)}

    def _record_values(self, record: PlannedRecord, contact_pk: int) -> dict[str, Any]:
        table = _RECORD_TABLES[record.kind]
        copies = None
        if record.filed_before:
            copies = self.session.scalar(
                select(func.max(table.copy)).where(
                    table.organisation_id == self.organisation_id,
                    table.contact_pk == contact_pk,
                    table.message_key == record.message_key,
                )
            )
        values: dict[str, Any] = {
            "organisation_id": self.organisation_id,
            "contact_pk": contact_pk,
            "subject": record.subject,
            "body": record.body,
            "message_key": record.message_key,
            "message_id": record.message_id,
            "copy": 0 if copies is None else copies + 1,
            "created_by": record.created_by,
            "saved_by": record.saved_by,
            "saved_at": self.clock(),
        }
        if record.kind == "interaction":
            values["to_line"] = record.to_line or ""
        else:
            values["activity_type"] = record.activity_type or ""
            values["fields"] = dict(record.fields)
        return values

    def _store_files(self, files: Sequence[PlannedFile]) -> list[str]:
        """Each content once in the blob folder and the blobs table; their SHA-256s in order."""
        digests = []
        for file in files:
            digest = sha256_of(file.data)
            self.blobs.put(file.data, digest)
            self._insert_blob(digest, file.size)
            digests.append(digest)
        return digests

    def _insert_blob(self, digest: str, size: int) -> None:
        values = {"sha256": digest, "size": size, "created_at": self.clock()}
        if self.session.get_bind().dialect.name == "postgresql":
            pg = postgresql.insert(Blob).values(values).on_conflict_do_nothing()
            self.session.execute(pg)
        else:
            lite = sqlite.insert(Blob).values(values).on_conflict_do_nothing()
            self.session.execute(lite)

    # -- reading back ---------------------------------------------------------------

    def records(
        self,
        contact_id: str | None = None,
        kinds: Collection[Kind] = ("interaction", "activity"),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredRecord]:
        """Stored records, newest first; for one contact when ``contact_id`` is given."""
        found: list[StoredRecord] = []
        for kind in kinds:
            table = _RECORD_TABLES[kind]
            query = (
                select(table, Contact.contact_id)
                .join(Contact, Contact.id == table.contact_pk)
                .where(table.organisation_id == self.organisation_id)
                .order_by(table.saved_at.desc(), table.id.desc())
            )
            if contact_id is not None:
                query = query.where(Contact.contact_id == contact_id)
            if limit is not None:
                query = query.limit(limit + offset)
            # The table is one of two mapped classes; SQLAlchemy types the union as Base.
            rows = cast(list[tuple[Interaction | Activity, str]], self.session.execute(query).all())
            files = self._files(kind, [row.id for row, _ in rows])
            found.extend(_stored(kind, row, cid, files.get(row.id, ())) for row, cid in rows)
        found.sort(key=lambda r: (r.saved_at, int(r.id)), reverse=True)
        end = None if limit is None else offset + limit
        return found[offset:end]

    def count_records(self, contact_id: str | None = None) -> int:
        total = 0
        for table in _RECORD_TABLES.values():
            query = (
                select(func.count())
                .select_from(table)
                .join(Contact, Contact.id == table.contact_pk)
                .where(table.organisation_id == self.organisation_id)
            )
            if contact_id is not None:
                query = query.where(Contact.contact_id == contact_id)
            total += self.session.scalar(query) or 0
        return total

    def _files(self, kind: Kind, record_ids: list[int]) -> dict[int, tuple[StoredFile, ...]]:
        if not record_ids:
            return {}
        column = (
            StoredAttachment.interaction_id
            if kind == "interaction"
            else StoredAttachment.activity_id
        )
        grouped: dict[int, list[StoredFile]] = defaultdict(list)
        for row in self.session.scalars(
            select(StoredAttachment)
            .where(column.in_(record_ids))
            .order_by(StoredAttachment.position)
        ):
            owner = row.interaction_id if kind == "interaction" else row.activity_id
            assert owner is not None
            grouped[owner].append(_stored_file(row))
        return {k: tuple(v) for k, v in grouped.items()}

    def attachment(self, attachment_id: str) -> tuple[StoredFile, bytes]:
        """One stored file and its bytes; ``NotFound`` outside this organisation."""
        row = None
        number = _number(attachment_id)
        if number is not None:
            row = self.session.scalar(
                select(StoredAttachment).where(
                    StoredAttachment.id == number,
                    StoredAttachment.organisation_id == self.organisation_id,
                )
            )
        if row is None:
            raise NotFound(f"no attachment {attachment_id} in this organisation")
        return _stored_file(row), self.blobs.get(row.sha256)


def _contact(row: Contact, emails: tuple[str, ...] = ()) -> match.Contact:
    return match.Contact(
        id=row.contact_id, full_name=row.full_name, organization=row.organization, emails=emails
    )


# The first contact created in an organisation without numbered contacts.
FIRST_NUMBER = 1001
# The longest ID taken for a number: what a BIGINT holds, whatever the digits.
LONGEST_NUMBER = 18


def _number(text: str) -> int | None:
    """The number an ID is ("118"), or None ("A-7", "²", twenty digits)."""
    if text.isascii() and text.isdigit() and len(text) <= LONGEST_NUMBER:
        return int(text)
    return None


def _check_contact(row: ContactRow) -> None:
    if any(
        "\x00" in text for text in (row.contact_id, row.full_name, row.organization, *row.emails)
    ):
        raise BadRequest(f"contact {row.contact_id!r} holds a NUL character")
    if not row.contact_id.strip():
        raise BadRequest("a contact needs an ID")
    if not row.full_name.strip():
        raise BadRequest(f"contact {row.contact_id} needs a full name")
    for address in row.emails:
        if not looks_like_address(address):
            raise BadRequest(f"contact {row.contact_id}: {address!r} is not an email address")


def _stored_file(row: StoredAttachment) -> StoredFile:
    # Cleaned again on the way out: rows stored before values were cleaned on
    # reading may hold what a sender wrote, and must still download and show.
    return StoredFile(
        id=str(row.id),
        filename=clean_filename(row.filename) or "attachment",
        size=row.size,
        sha256=row.sha256,
        content_type=clean_content_type(row.content_type),
        content_id=clean_content_id(row.content_id),
    )


def _stored(
    kind: Kind, row: Interaction | Activity, contact_id: str, files: tuple[StoredFile, ...]
) -> StoredRecord:
    return StoredRecord(
        kind=kind,
        id=str(row.id),
        contact_id=contact_id,
        subject=row.subject,
        to_line=row.to_line if isinstance(row, Interaction) else None,
        body=row.body,
        activity_type=row.activity_type if isinstance(row, Activity) else None,
        fields=dict(row.fields) if isinstance(row, Activity) else {},
        created_by=row.created_by,
        saved_by=row.saved_by,
        message_id=row.message_id,
        message_key=row.message_key,
        saved_at=row.saved_at,
        attachments=files,
    )
