"""The built-in CRM as a connector: contacts and records in tables of mailfiler's database.

It reads within the caller's session (the unit of work a request already
has open) and writes each save in a transaction of its own, so that, as
with any CRM, the write happens outside the caller's transaction.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    join,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session
from sqlalchemy.sql.dml import Insert, Update

from mailfiler.clock import Clock, system_clock
from mailfiler.connectors.base import (
    ContactRow,
    Failed,
    Found,
    Saved,
    Sending,
    StillUnknown,
    StoredFile,
    StoredRecord,
    UserAccess,
    WriteOutcome,
    Written,
)
from mailfiler.connectors.builtin.tables import (
    Activity,
    Blob,
    Contact,
    ContactEmail,
    ContactNumber,
    Interaction,
    StoredAttachment,
)
from mailfiler.connectors.plugin import Blobs
from mailfiler.core import match
from mailfiler.core.addresses import address_key, looks_like_address
from mailfiler.core.filenames import clean_filename
from mailfiler.core.mime_params import clean_content_id, clean_content_type
from mailfiler.core.options import EMAIL_ACTIVITY, ActivityType
from mailfiler.core.plan import Capabilities, PlannedFile, PlannedRecord
from mailfiler.core.rules import Kind
from mailfiler.core.search import distinctive, query_forms, searchable
from mailfiler.errors import BadRequest, Conflict, NotFound
from mailfiler.storage.blobs import sha256_of
from mailfiler.storage.database import insert_into, rows

_RECORD_TABLES: dict[Kind, type[Interaction] | type[Activity]] = {
    "interaction": Interaction,
    "activity": Activity,
}


# The statement every message read runs, built once (building and caching a
# statement each time costs SQLAlchemy more than PostgreSQL spends on it).
# Columns, not entities, for the same reason.
def _by_address(postgres: bool) -> Select[str, str, str, str]:
    """Contacts holding any of the addresses ("keys")."""
    if postgres:  # "= ANY(array)": one statement text whatever the number of addresses
        array = bindparam("keys", type_=postgresql.ARRAY(String))
        one_of = ContactEmail.address_key == any_(array)
    else:
        one_of = ContactEmail.address_key.in_(bindparam("keys", expanding=True))
    return (
        select(
            ContactEmail.address_key,
            Contact.contact_id,
            Contact.full_name,
            Contact.organization,
        )
        .select_from(join(ContactEmail, Contact, Contact.id == ContactEmail.contact_pk))
        .where(ContactEmail.organisation_id == bindparam("organisation_id"), one_of)
        .order_by(Contact.contact_id)
    )


_BY_ADDRESS = {postgres: _by_address(postgres) for postgres in (True, False)}

# The built-in CRM's catalogue of activity types: the one mailfiler sets up.
CATALOGUE: tuple[ActivityType, ...] = (EMAIL_ACTIVITY,)


Units = Callable[..., AbstractContextManager[Session]]
Method = TypeVar("Method", bound=Callable[..., Any])


def _in_a_unit(method: Method) -> Method:
    """The method runs in a short unit of work of its own (or of the call it is part of):
    no transaction of mailfiler's stays open between a request's calls."""

    @functools.wraps(method)
    def in_a_unit(self: BuiltinCRM, *args: Any, **kwargs: Any) -> Any:
        with self._unit():
            return method(self, *args, **kwargs)

    return cast(Method, in_a_unit)


class BuiltinCRM:
    # Its write finds a record already written under its filing key (see ``write``), so a
    # reservation whose writer died may be written again.
    capabilities = Capabilities(rewrite_abandoned=True)

    def __init__(
        self,
        units: Units | Session,
        organisation_id: int,
        blobs: Blobs,
        *,
        clock: Clock = system_clock,
    ) -> None:
        """``units``: short units of work of mailfiler's database, one opened for each call
        (or, given a session, that session's own: a caller already in a unit of work)."""
        if isinstance(units, Session):
            given = units
            self._units: Units = lambda *_, **__: nullcontext(given)
        else:
            self._units = units
        self._open = threading.local()
        self.organisation_id = organisation_id
        self.blobs = blobs
        self.clock = clock

    @property
    def session(self) -> Session:
        """The unit of work of the call under way (``_in_a_unit``)."""
        session: Session | None = getattr(self._open, "session", None)
        assert session is not None, "a built-in CRM call outside its unit of work"
        return session

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        """This call's unit of work: the one already open (a call within a call), or a new
        one, committed when the outermost call ends."""
        open_now: Session | None = getattr(self._open, "session", None)
        if open_now is not None:
            yield open_now
            return
        with self._units() as session:
            self._open.session = session
            try:
                yield session
            finally:
                self._open.session = None

    # -- contacts -----------------------------------------------------------

    @_in_a_unit
    def find_contacts(self, addresses: Collection[str]) -> Mapping[str, Sequence[match.Contact]]:
        if not addresses:
            return {}
        keys = sorted({address_key(a) for a in addresses})
        parameters = {"organisation_id": self.organisation_id, "keys": keys}
        found: dict[str, list[match.Contact]] = defaultdict(list)
        statement = _BY_ADDRESS[self._postgres()]
        for key, contact_id, full_name, organization in rows(self.session, statement, parameters):
            found[key].append(match.Contact(contact_id, full_name, organization))
        return found

    def activity_types(self) -> list[ActivityType]:
        return list(CATALOGUE)

    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _one_of(
        self, column: Mapped[str] | Mapped[str | None], values: Collection[str]
    ) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL as ``= ANY(array)``, one statement text
        whatever the number of values, so the server keeps its plan prepared."""
        if self._postgres():
            array = bindparam("values", sorted(values), type_=postgresql.ARRAY(String))
            return column == any_(array)
        return column.in_(sorted(values))

    @_in_a_unit
    def search(
        self, query: str, *, limit: int = 20, as_user: UserAccess | None = None
    ) -> list[match.Contact]:
        """Contacts whose name, organisation or address holds the query, however it is
        spelt (accents, case, an internationalised domain either way; ``core.search``),
        or whose ID it is.

        A whole address is looked up by its key first (the index every message read
        uses). Otherwise each spelling is found in two steps: the index finds the
        rows holding the query's most distinctive word (a trigram index on PostgreSQL,
        migration 0009: a word every contact shares would make it read much of the
        index), and those rows are checked for the whole query.
        """
        forms = query_forms(query)
        if not forms:
            return []
        if "@" in query:
            exact = self.find_contacts({query.strip()}).get(address_key(query), ())
            if exact:
                return [self.contact(c.id) for c in list(exact)[:limit]]
        holds = func.strpos if self._postgres() else func.instr
        found = or_(
            Contact.contact_id == query.strip(),
            *(
                and_(self._holding(distinctive(form)), holds(Contact.search_text, form) > 0)
                for form in forms
            ),
        )
        rows = self.session.scalars(
            self._contacts()
            .where(found)
            .order_by(Contact.full_name_key, Contact.contact_id)
            .limit(limit)
        ).all()
        return self._with_emails(rows)

    def _holding(self, word: str) -> ColumnElement[bool]:
        """Contacts whose search text holds ``word``, through the index of this database:
        the trigram index of PostgreSQL (migration 0009), SQLite's FTS5 table (0011)."""
        pattern = _containing(word)
        if self._postgres():
            return Contact.search_text.like(pattern, escape="\\")
        indexed = text(
            "SELECT rowid FROM contacts_search WHERE search_text LIKE :pattern ESCAPE '\\'"
        ).bindparams(pattern=pattern)
        return Contact.id.in_(indexed)

    @_in_a_unit
    def contact(self, contact_id: str) -> match.Contact:
        row = self._row(contact_id)
        return self._with_emails([row])[0]

    def create_contact(
        self, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> match.Contact:
        return self.add_contact(full_name, emails, organization)

    @_in_a_unit
    def add_contact(
        self,
        full_name: str,
        emails: Sequence[str],
        organization: str = "",
        contact_id: str | None = None,
    ) -> match.Contact:
        """A new contact, with the ID given (an import) or the next number."""
        if contact_id is None:
            contact_id = self._next_contact_id()
        elif self._exists(contact_id):
            raise Conflict(f"a contact with ID {contact_id} exists already")
        self.upsert_contacts([ContactRow(contact_id, full_name, tuple(emails), organization)])
        return self.contact(contact_id)

    @_in_a_unit
    def upsert_contacts(
        self, rows: Iterable[ContactRow], progress: Callable[[int], None] = lambda done: None
    ) -> tuple[int, int]:
        """Add or update contacts by ID (their addresses replaced); returns (added, updated).

        A batch of rows at a time, each batch a few statements whatever its size (the
        search index follows: a trigger on SQLite, the trigram index on PostgreSQL);
        ``progress(rows done)`` after each batch.
        """
        added = updated = highest = 0
        next_look = IMPORT_BATCH
        for batch in _batches(rows, IMPORT_BATCH):
            new, changed, top = self._upsert_batch(batch)
            added, updated, highest = added + new, updated + changed, max(highest, top)
            progress(added + updated)
            if added >= next_look:
                self._look_again()
                next_look *= 2
        self._raise_counter(highest)  # new contacts are numbered after these
        return added, updated

    def _upsert_batch(self, batch: Sequence[ContactRow]) -> tuple[int, int, int]:
        """One batch written: how many were added and updated, and the highest numbered ID
        among them."""
        rows = list({row.contact_id: row for row in batch}.values())  # an ID twice: the last
        for row in rows:
            _check_contact(row)
        session = self.session
        contacts, emails = _core(Contact), _core(ContactEmail)
        # The moment, as the database takes it (a text on SQLite): made once, not per row.
        stamp = contacts.c.updated_at.type.bind_processor(session.get_bind().dialect)
        now = stamp(self.clock()) if stamp else self.clock()
        existing = self._numbered([r.contact_id for r in rows])
        new = [r for r in rows if r.contact_id not in existing]
        if new:
            self._write_many(
                insert(contacts),
                [
                    {"organisation_id": self.organisation_id, "contact_id": r.contact_id,
                     "created_at": now, **_contact_values(r, now)}
                    for r in new
                ],
            )  # fmt: skip
        if existing:
            changed = [r for r in rows if r.contact_id in existing]
            self._search_index("delete", list(existing.values()))  # their text before
            self._write_many(
                update(contacts).where(contacts.c.id == bindparam("pk")),
                [{"pk": existing[r.contact_id], **_contact_values(r, now)} for r in changed],
            )
            session.execute(delete(emails).where(emails.c.contact_pk.in_(list(existing.values()))))
        pks = {**existing, **self._numbered([r.contact_id for r in new])} if new else existing
        self._search_index("add", list(pks.values()))
        addresses = [
            {"contact_pk": pks[r.contact_id], "organisation_id": self.organisation_id,
             "address": address, "address_key": key, "position": position}
            for r in rows
            for position, address, key in _addresses(r.emails)
        ]  # fmt: skip
        if addresses:
            self._write_many(insert(emails), addresses)
        highest = max((_number(r.contact_id) or 0 for r in rows), default=0)
        return len(new), len(existing), highest

    def _look_again(self) -> None:
        """On PostgreSQL, the planner's figures for the contacts brought up to date within
        the import's own transaction (ANALYZE counts the rows it inserted): planned for the
        empty tables it began with, each batch's look-up of its IDs scanned every contact
        (16 minutes into 200 000). Each time the import has doubled them: a few times in
        all."""
        if self._postgres():
            self.session.execute(text("ANALYZE contacts, contact_emails"))

    def _write_many(self, statement: Insert | Update, rows: list[dict[str, Any]]) -> None:
        """One executemany of a Core statement, its rows handed to the database driver as
        they are (plain values: texts, numbers, a moment made once): SQLAlchemy's handling
        of each row's parameters cost more than the writing."""
        connection = self.session.connection()
        if isinstance(statement, Insert) and self._postgres():
            self._copy(statement.table.name, rows)
            return
        columns: dict[str, Any] = {name: bindparam(name) for name in rows[0] if name != "pk"}
        compiled = statement.values(columns).compile(dialect=connection.dialect)
        if compiled.positional:
            order = compiled.positiontup or []
            connection.exec_driver_sql(str(compiled), [tuple(r[n] for n in order) for r in rows])
        else:
            connection.exec_driver_sql(str(compiled), rows)

    def _copy(self, table: str, rows: list[dict[str, Any]]) -> None:
        """New rows into a PostgreSQL table by COPY: one stream, not a statement a row
        (an executemany of INSERTs wrote 11 000 rows a second)."""
        names = list(rows[0])
        driver = self.session.connection().connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            columns = ", ".join(names)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])

    def _search_index(self, change: Literal["add", "delete"], pks: Sequence[int]) -> None:
        """On SQLite, the contacts' entries in their search index (FTS5, migration 0017):
        added (their text now) or deleted (their text before it changes), a batch in one
        statement. PostgreSQL's trigram index follows the table by itself."""
        if self._postgres() or not pks:
            return
        if change == "delete":
            statement = (
                "INSERT INTO contacts_search(contacts_search, rowid, search_text) "
                "SELECT 'delete', id, search_text FROM contacts WHERE id IN :pks"
            )
        else:
            statement = (
                "INSERT INTO contacts_search(rowid, search_text) "
                "SELECT id, search_text FROM contacts WHERE id IN :pks"
            )
        self.session.execute(
            text(statement).bindparams(bindparam("pks", expanding=True)), {"pks": list(pks)}
        )

    def _numbered(self, contact_ids: Sequence[str]) -> dict[str, int]:
        """Contact ID -> the row's key, of those given that this organisation has."""
        if not contact_ids:
            return {}
        found = self.session.execute(
            select(Contact.contact_id, Contact.id).where(
                Contact.organisation_id == self.organisation_id,
                self._one_of(Contact.contact_id, contact_ids),
            )
        )
        return {contact_id: pk for contact_id, pk in found}

    def _next_contact_id(self) -> str:
        counter = insert_into(self.session, ContactNumber).values(
            organisation_id=self.organisation_id, last_number=FIRST_NUMBER
        )
        number = self.session.execute(
            counter.on_conflict_do_update(
                index_elements=[ContactNumber.organisation_id],
                set_={"last_number": ContactNumber.last_number + 1},
            ).returning(ContactNumber.last_number)
        ).scalar_one()
        if self._exists(str(number)):
            # Contacts were numbered around the counter (loaded straight into
            # the database, say): catch up with them, reading every ID once.
            ids = self.session.scalars(self._contacts().with_only_columns(Contact.contact_id))
            number = max((_number(i) or 0 for i in ids), default=0) + 1
            self._raise_counter(number)
        return str(number)

    def _raise_counter(self, number: int) -> None:
        counter = insert_into(self.session, ContactNumber).values(
            organisation_id=self.organisation_id, last_number=number
        )
        self.session.execute(
            counter.on_conflict_do_update(
                index_elements=[ContactNumber.organisation_id],
                set_={"last_number": number},
                where=ContactNumber.last_number < number,
            )
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

    def look_for(self, written: Written) -> Found:
        # A save writes all its records in one transaction: never unsure.
        return StillUnknown("the built-in CRM holds no record whose write went unanswered")

    def write(
        self, records: Sequence[PlannedRecord], sending: Sending = lambda record: None
    ) -> list[WriteOutcome]:
        """Every record of a save in one transaction of its own: all written, or none
        (``sending`` is not told: a record written again is found, see below).

        Idempotent by the protocol's key: a record whose ``filing_key`` was written
        already (a save that ended before the ledger heard of it) answers with the
        record written then; the key is unique, so no race writes it twice.
        """
        if not records:
            return []
        try:
            with self._unit() as session:
                return self._write(session, records)
        except NotFound as error:
            return [Failed(str(error)) for _ in records]

    def _write(self, session: Session, records: Sequence[PlannedRecord]) -> list[WriteOutcome]:
        completed = {id(r): self._add_files(session, r) for r in records if r.existing_record_id}
        fresh = [r for r in records if not r.existing_record_id]
        written = iter(self._write_new(session, fresh) if fresh else [])
        return [completed.get(id(r)) or next(written) for r in records]

    def _add_files(self, session: Session, record: PlannedRecord) -> WriteOutcome:
        """The files an existing record lacks (a save that was partial), each once."""
        owner = "interaction_id" if record.kind == "interaction" else "activity_id"
        column = getattr(StoredAttachment, owner)
        record_pk = int(record.existing_record_id or 0)
        exists = session.scalar(
            select(_RECORD_TABLES[record.kind].id).where(
                _RECORD_TABLES[record.kind].id == record_pk,
                _RECORD_TABLES[record.kind].organisation_id == self.organisation_id,
            )
        )
        if exists is None:
            return Failed(f"record {record.existing_record_id} is no longer in the built-in CRM")
        held = session.execute(
            select(StoredAttachment.filename, StoredAttachment.position).where(column == record_pk)
        ).all()
        names = {name for name, _ in held}
        position = max((p for _, p in held), default=-1) + 1
        files = [f for f in record.files if f.filename not in names]
        for file, digest in zip(files, self._store_files(session, files), strict=True):
            session.execute(
                insert(StoredAttachment).values(
                    organisation_id=self.organisation_id, interaction_id=None, activity_id=None,
                    position=position, filename=file.filename, content_type=file.content_type,
                    size=file.size, sha256=digest, content_id=file.content_id, **{owner: record_pk},
                )
            )  # fmt: skip
            position += 1
        return Saved(str(record_pk))

    def _write_new(self, session: Session, records: Sequence[PlannedRecord]) -> list[WriteOutcome]:
        kind = records[0].kind
        table = _RECORD_TABLES[kind]
        pks = dict(
            session.execute(
                select(Contact.contact_id, Contact.id).where(
                    Contact.organisation_id == self.organisation_id,
                    self._one_of(Contact.contact_id, [r.contact_id for r in records]),
                )
            ).all()
        )
        missing = [r.contact_id for r in records if r.contact_id not in pks]
        if missing:
            raise NotFound(f"contact {missing[0]} was removed during the save")
        already = self._written(session, table, [r.filing_key for r in records])
        new = [r for r in records if r.filing_key not in already]
        inserted: Sequence[int] = []
        if new:
            digests = self._store_files(session, new[0].files)
            rows = [self._record_values(record, pks[record.contact_id]) for record in new]
            # One INSERT for every record of the save (a message to 28 contacts
            # is 28 records), the new IDs back in the order given.
            # Core, not the ORM's bulk insert: the same statement at a third of the CPU.
            core = _core(table)
            inserted = (
                session.execute(
                    insert(core).returning(core.c.id, sort_by_parameter_order=True), rows
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
                for record, record_id in zip(new, inserted, strict=True)
                for position, (file, digest) in enumerate(zip(record.files, digests, strict=True))
            ]
            if files:
                session.execute(insert(_core(StoredAttachment)), files)
        fresh = iter(inserted)
        return [Saved(str(already.get(r.filing_key) or next(fresh))) for r in records]

    def _written(
        self, session: Session, table: type[Interaction] | type[Activity], keys: Sequence[str]
    ) -> dict[str, int]:
        """Filing key -> the record written under it, of those given (a key "" is none)."""
        given = [key for key in keys if key]
        if not given:
            return {}
        found = session.execute(
            select(table.filing_key, table.id).where(
                table.organisation_id == self.organisation_id,
                self._one_of(table.filing_key, given),
            )
        )
        return {key: record_id for key, record_id in found if key}

    def _record_values(self, record: PlannedRecord, contact_pk: int) -> dict[str, Any]:
        values: dict[str, Any] = {
            "organisation_id": self.organisation_id,
            "contact_pk": contact_pk,
            "subject": record.subject,
            "body": record.body,
            "message_key": record.message_key,
            "message_id": record.message_id,
            "copy": record.copy,
            "filing_key": record.filing_key or None,
            "created_by": record.created_by,
            "saved_by": record.saved_by,
            "saved_at": self.clock(),
            "sender": record.sender,
            "recipients": record.recipients,
            "sent_at": record.sent_at,
        }
        if record.kind == "interaction":
            values["to_line"] = record.to_line or ""
        else:
            values["activity_type"] = record.activity_type or ""
            values["fields"] = dict(record.fields)
        return values

    def _store_files(self, session: Session, files: Sequence[PlannedFile]) -> list[str]:
        """Each content once in the blob store and the blobs table; their SHA-256s in order."""
        digests = []
        for file in files:
            digest = sha256_of(file.data)
            self.blobs.put(session, file.data, digest)
            values = {"sha256": digest, "size": file.size, "created_at": self.clock()}
            session.execute(
                insert_into(session, _core(Blob)).values(values).on_conflict_do_nothing()
            )
            digests.append(digest)
        return digests

    # -- reading back ---------------------------------------------------------------

    @_in_a_unit
    def details(self, kind: Kind, record_ids: Collection[str]) -> Mapping[str, StoredRecord]:
        """The records of this organisation among those given, with their files."""
        numbers = [n for n in map(_number, record_ids) if n is not None]
        if not numbers:
            return {}
        table = _RECORD_TABLES[kind]
        query = (
            select(table, Contact.contact_id)
            .join(Contact, Contact.id == table.contact_pk)
            .where(table.organisation_id == self.organisation_id, table.id.in_(numbers))
        )
        # The table is one of two mapped classes; SQLAlchemy types the union as Base.
        rows = cast(list[tuple[Interaction | Activity, str]], self.session.execute(query).all())
        files = self._files(kind, [row.id for row, _ in rows])
        return {str(row.id): _stored(kind, row, cid, files.get(row.id, ())) for row, cid in rows}

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

    @_in_a_unit
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
        data = self.blobs.get(self.session, row.sha256)
        if data is None:  # where it was looked for is in the server's log, not said here
            kind, number = (
                ("Interaction", row.interaction_id)
                if row.interaction_id is not None
                else ("Activity", row.activity_id)
            )
            raise NotFound(
                f"the content of {row.filename!r}, filed with {kind} {number}, is missing "
                "from this server's store: ask your administrator"
            )
        return _stored_file(row), data


def _core(mapped: type[Any]) -> Table:
    """A mapped class's table, for Core statements (many rows at once, no ORM bookkeeping)."""
    return cast(Table, mapped.__table__)


def _contact(row: Contact, emails: tuple[str, ...] = ()) -> match.Contact:
    return match.Contact(
        id=row.contact_id, full_name=row.full_name, organization=row.organization, emails=emails
    )


# The first contact created in an organisation without numbered contacts.
FIRST_NUMBER = 1001
# The longest ID taken for a number: what a BIGINT holds, whatever the digits.
LONGEST_NUMBER = 18


def _containing(text: str) -> str:
    """A LIKE pattern for text anywhere, its own % and _ taken as themselves."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _number(text: str) -> int | None:
    """The number an ID is ("118"), or None ("A-7", "²", twenty digits)."""
    if text.isascii() and text.isdigit() and len(text) <= LONGEST_NUMBER:
        return int(text)
    return None


# Contacts one batch of an import writes: a few statements each, well within SQLite's
# 32 766 parameters a statement.
IMPORT_BATCH = 2000


def _batches(rows: Iterable[ContactRow], size: int) -> Iterator[list[ContactRow]]:
    batch: list[ContactRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_CONTACT_COLUMNS = ("full_name", "full_name_key", "organization", "search_text", "updated_at")


def _contact_values(row: ContactRow, now: object) -> dict[str, Any]:
    """A contact's columns as a row of the file gives them."""
    full_name, organization = row.full_name.strip(), row.organization.strip()
    return {
        "full_name": full_name,
        "full_name_key": full_name.lower(),
        "organization": organization,
        "search_text": searchable(full_name, organization, row.emails),
        "updated_at": now,
    }


def _addresses(emails: Iterable[str]) -> Iterator[tuple[int, str, str]]:
    """(position, address, key) of each address, the same address given twice once."""
    keys: set[str] = set()
    for position, address in enumerate(emails):
        key = address_key(address)
        if key not in keys:
            keys.add(key)
            yield position, address.strip(), key


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
        sender=row.sender,
        recipients=row.recipients,
        sent_at=row.sent_at,
    )
