"""The one door every entry point calls: each use case (reading, reviewing, saving, signing
in and out, users, options and CRM settings, contacts, records, organisations) is a method.

The CLI, the HTTP API, the demo and the capture mailbox call ``Service`` and nothing below
it: none opens a unit of work, imports storage or picks a connector (tests/test_layers.py).
A use case opens short units of work of its own, and calls the CRM outside them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mailfiler import accounts, logs

# What the faces (the API, the CLI, the demo) name of the layers below, from here: they
# import the service, core and errors, never accounts, connectors or storage.
from mailfiler.accounts import Member as Member
from mailfiler.accounts import signin
from mailfiler.config import Settings
from mailfiler.connectors import registry
from mailfiler.connectors.base import Connector, Found, StoredFile, UserAccess
from mailfiler.connectors.base import ContactRow as ContactRow
from mailfiler.connectors.base import StillUnknown as StillUnknown
from mailfiler.connectors.base import StoredRecord as StoredRecord
from mailfiler.connectors.patience import INTERACTIVE as INTERACTIVE
from mailfiler.connectors.patience import Patience as Patience
from mailfiler.connectors.patience import patient as patient
from mailfiler.connectors.plugin import Needs, StoredPassword, Units, UserCheck
from mailfiler.connectors.plugin import SetUpCheck as SetUpCheck
from mailfiler.core.fields import message_from_fields
from mailfiler.core.limits import size_in_words
from mailfiler.core.match import Contact, match
from mailfiler.core.message import Message
from mailfiler.core.options import (
    Action,
    ActivityType,
    Options,
    activity_action,
    add_contact_action,
    interaction_action,
)
from mailfiler.core.organisation import Tenant
from mailfiler.core.people import participants
from mailfiler.core.plan import (
    KINDS,
    Choices,
    FileOutcome,
    Filer,
    SavePlan,
    activity_fields,
    plan,
    why_not_save,
)
from mailfiler.core.read import HEADER_LOOK_MAX, filing_key_of
from mailfiler.core.rules import Kind
from mailfiler.errors import (
    BadRequest,
    Conflict,
    ConnectorUnavailable,
    InvalidMessage,
    NotFound,
    Refused,
    SystemFault,
    TooLarge,
    Unauthenticated,
    UnknownUser,
)
from mailfiler.service import organisations, reader_pool, saving, uploads
from mailfiler.service.moving import Moved, move_into_database
from mailfiler.service.records import FiledRecords
from mailfiler.service.uploads import MessageCache
from mailfiler.storage import Database, blob_store, ledger
from mailfiler.storage import secrets as stored_secrets
from mailfiler.storage.blobs import DatabaseBlobs, FolderBlobs
from mailfiler.storage.ledger import ToCheck as ToCheck
from mailfiler.storage.secrets import KEY_VARIABLE as KEY_VARIABLE

T = TypeVar("T")

log = logs.get_logger("mailfiler.service")


@dataclass(frozen=True)
class Context:
    """Who is asking, as every use case takes it: the organisation, the user, its CRM. It
    holds no database session: each use case opens the short units of work it needs, and
    calls the CRM outside them."""

    tenant: Tenant
    user: accounts.Member | None
    crm: Connector
    records: FiledRecords  # what was filed, for the staff site
    expires_at: datetime | None = None  # of the caller's sign-in, when signed in by token
    crm_token: str | None = None  # the caller's own CRM token, sealed (signin.unsealed)

    def user_access(self) -> UserAccess | None:
        """The caller's own access to the CRM (iMIS), for searching as them."""
        return signin.unsealed(self.crm_token)

    @property
    def signed_in_user(self) -> accounts.Member:
        if self.user is None:  # pragma: no cover - every web route has a user
            raise Refused("this needs a signed-in user")
        return self.user

    @property
    def filer(self) -> Filer:
        return accounts.filer(self.signed_in_user)


@dataclass(frozen=True)
class Review:
    """A message read by the web service: what saving it would do, and what the user may do."""

    ref: str
    message: Message
    outcome: SavePlan
    files: tuple[FileOutcome, ...]  # as they would be saved
    actions: dict[str, Action]
    activity_types: list[tuple[ActivityType, dict[str, str]]]
    mode: str
    attachments_missing: bool
    # Why a save of each kind would write nothing now (None: it would write something).
    refusals: Mapping[Kind, str | None]


@dataclass(frozen=True)
class ContactPage:
    """One contact's page on the staff site."""

    contact: Contact
    records: list[StoredRecord]
    total: int
    to_check: list[ledger.ToCheck]


@dataclass(frozen=True)
class SignedIn:
    """A sign-in: its token, until when, the organisation and the user."""

    token: str
    expires_at: datetime
    organisation: Tenant
    user: accounts.Member


@dataclass(frozen=True)
class Preview:
    """What a save would do now: each contact and file with why, and why not at all."""

    message: Message
    outcome: SavePlan
    files: tuple[FileOutcome, ...]
    refusal: str | None  # why it would write nothing (its Save is disabled with it)
    # The same for each kind (its own Save button): the other kind planned too.
    refusals: Mapping[Kind, str | None]


@dataclass(frozen=True)
class Filing:
    """One message file of a bulk run, read and filed (or planned): what became of it. A
    message's own trouble is said and the run goes on; the system's is raised."""

    message: Message | None  # None: the bytes are not a message (``error`` says why)
    outcome: SavePlan | None
    error: str | None = None  # the message's own: unreadable, or refused as it is
    crm_error: str | None = None  # the CRM could not be reached for it, past waiting
    filed_before: bool = False  # passed over unread: every record of it is saved already


@dataclass(frozen=True)
class Saved:
    outcome: SavePlan
    message: Message
    attachments_missing: bool
    expires_at: datetime | None = None  # of the caller's sign-in, when signed in by token
    options: Options | None = None  # the organisation's, as they were for this save


class Service:
    def __init__(
        self,
        settings: Settings,
        database: Database | None = None,
        reader: Callable[[bytes], Message] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database or Database(settings.database_url)
        self.blobs = blob_store(settings.files_in_database, settings.blobs_dir)
        self.incoming = _incoming(settings, self.unit)
        # Every read runs in a worker process under limits (reader_pool).
        self.reader = reader or reader_pool.shared().read
        self.messages = MessageCache()
        self._key: bytes | None = None

    def migrate(self) -> None:
        self.database.migrate()

    def close(self) -> None:
        self.database.dispose()

    # -- units of work ---------------------------------------------------------------

    @contextmanager
    def unit(self, reading: bool = False) -> Iterator[Session]:
        """A transaction (with ``reading``, none: see ``Database.unit_of_work``); storage
        failures become ``SystemFault`` (nothing half-written)."""
        try:
            with self.database.unit_of_work(reading) as session:
                yield session
        except SQLAlchemyError as error:
            raise SystemFault(f"the database failed: {type(error).__name__}") from error

    @contextmanager
    def context(self, cloud_id: str, username: str | None = None) -> Iterator[Context]:
        """The organisation and user named (the command line's ``--cloud-id``, ``--user``)."""
        with self.unit(reading=True) as session:
            tenant = accounts.tenant(session, cloud_id)
        user = self._member(tenant, username) if username is not None else None
        yield self._context(tenant, user)

    @contextmanager
    def signed_in(self, token: str, reading: bool = False) -> Iterator[Context]:
        """The user behind a bearer token (renewed in a short unit of its own)."""
        with self.unit(reading) as session:
            who = signin.authenticate(session, token)
            tenant = accounts.tenant_of(session, who.organisation)
        yield self._context(tenant, who.user, who.expires_at, who.crm_token)

    def _member(self, tenant: Tenant, username: str) -> accounts.Member:
        """A user; for an organisation whose users are the CRM's (iMIS), remembered from
        what the CRM says of them the first time (as their sign-in would), the CRM asked
        outside any unit of work."""
        with self.unit(reading=True) as session:
            found = accounts.find_user(session, tenant, username)
            member = accounts.member(found) if found is not None else None
        if member is None:
            describe = registry.of(tenant).describe_user
            remote = describe(tenant, username, self.needs()) if describe else None
            if remote is None:
                raise UnknownUser(f"no user {username} in {tenant.cloud_id}")
            with self.unit() as session:
                member = accounts.member(accounts.remember_remote_user(session, tenant, remote))
        if member.disabled:
            raise Refused(f"user {member.username} is disabled")
        return member

    def needs(self) -> Needs:
        """What a connector may need from this installation."""
        return Needs(
            self.unit, self.blobs, self.settings.clock,
            allow_local_crm=self.settings.allow_local_crm, open_password=_open_password,
        )  # fmt: skip

    def _context(
        self,
        tenant: Tenant,
        user: accounts.Member | None,
        expires_at: datetime | None = None,
        crm_token: str | None = None,
    ) -> Context:
        needs = self.needs()
        plugin = registry.of(tenant)
        crm = plugin.connect(tenant, needs)
        # What was filed: the ledger's, with the CRM's detail where it shows it.
        link = plugin.record_link(tenant) if plugin.record_link else (lambda c, r: None)
        detail = plugin.details(tenant, needs) if plugin.details else None
        records = FiledRecords(self.unit, tenant, link, detail)
        return Context(tenant, user, crm, records, expires_at, crm_token)

    def run(self, cloud_id: str, username: str | None, work: Callable[[Context], T]) -> T:
        with self.context(cloud_id, username) as context:
            return work(context)

    # -- filing ---------------------------------------------------------------------------

    def read(self, data: bytes) -> Message:
        """Bytes to a message; ``InvalidMessage`` says why when they are not one."""
        if len(data) > self.settings.max_message_bytes:
            limit = size_in_words(self.settings.max_message_bytes)
            raise TooLarge(f"the message is larger than the limit of {limit}")
        return self.reader(data)

    def file_bytes(
        self,
        cloud_id: str,
        username: str,
        data: bytes,
        choices: Choices,
        *,
        save: bool = True,
        recheck: bool = False,
    ) -> Filing:
        """A message file read and filed (``save=False``: only what filing it would do), as
        the command line's bulk run takes each one. A message filed before, every record of
        it saved, is passed over unread (by its Message-ID) unless ``recheck`` or the
        choices pick contacts (``filed_before``)."""
        if save and not recheck and not choices.picks and choices.contact_ids is None:
            key = filing_key_of(data[:HEADER_LOOK_MAX])
            if key is not None and self._filed_whole(cloud_id, choices.kind, key):
                return Filing(None, None, filed_before=True)
        try:
            message = self.read(data)
        except InvalidMessage as error:
            return Filing(None, None, str(error))
        act = self.file if save else self.inspect
        try:
            return Filing(message, act(cloud_id, username, message, choices))
        except (InvalidMessage, Conflict) as error:  # this message's own: the run goes on
            return Filing(message, None, str(error))
        except ConnectorUnavailable as error:  # the CRM, past waiting: the run goes on
            return Filing(message, None, crm_error=f"not filed: {error}")

    def _filed_whole(self, cloud_id: str, kind: Kind, key: str) -> bool:
        """Whether the message with this key is filed whole as ``kind`` (never, where the
        organisation allows duplicates: a rerun files another copy)."""
        with self.unit(reading=True) as session:
            tenant = accounts.tenant(session, cloud_id)
            if tenant.options.allow_duplicates:
                return False
            return ledger.filed_whole(session, tenant.id, kind, key)

    def inspect(self, cloud_id: str, username: str, message: Message, choices: Choices) -> SavePlan:
        """What filing would do, and why. Writes nothing."""
        with self.context(cloud_id, username) as context:
            return self._plan(context, message, choices)

    def file(self, cloud_id: str, username: str, message: Message, choices: Choices) -> SavePlan:
        """File the message: every record of the save lands, or none does."""
        done = self._save(lambda: self.context(cloud_id, username), lambda _: message, choices)
        return done.outcome

    def save(self, token: str, ref: str, choices: Choices) -> Saved:
        """Save a message read before (by its reference) as the signed-in user chose."""
        uploaded: list[uploads.Upload] = []

        def message(context: Context) -> Message:
            uploaded[:] = [self._find(context, ref)]
            return self._message(ref, uploaded[0])

        done = self._save(lambda: self.signed_in(token), message, choices)
        return replace(done, attachments_missing=uploaded[0].attachments_missing)

    def _save(
        self,
        open_context: Callable[[], AbstractContextManager[Context]],
        message_of: Callable[[Context], Message],
        choices: Choices,
    ) -> Saved:
        """The one save path: plan, then reserve, write and record (``saving``).

        Planning reads in a unit of work of its own, closed before anything
        is written, so the CRM is written outside any transaction.
        """
        with open_context() as context:
            message = message_of(context)
        capabilities = context.crm.capabilities
        with self.unit() as session:
            # A save of this message whose writer died is made what it is first: one that
            # may have been sent is unsure, and the CRM is asked about it below.
            ledger.recover(
                session, context.tenant.id, self.settings.clock(), crm=capabilities.crm,
                rewrite_abandoned=capabilities.rewrite_abandoned, message_key=message.key,
            )  # fmt: skip
            unsure = ledger.to_check(
                session, context.tenant.id, states=(ledger.UNSURE,),
                kind=choices.kind, message_key=message.key,
            )  # fmt: skip
        if unsure:
            # Written perhaps, by an earlier save: the CRM is asked first, then the plan
            # knows which it holds.
            saving.ask_the_crm(self.unit, context.tenant, context.crm, unsure, self.settings.clock)
        decided = self._plan(context, message, choices)
        outcome = saving.carry_out(
            self.unit, context.tenant, context.crm, decided, self.settings.clock
        )
        return Saved(outcome, message, False, context.expires_at, context.tenant.options)

    def _plan(
        self, context: Context, message: Message, choices: Choices, records_too: bool = True
    ) -> SavePlan:
        return self._plans(context, message, [choices], records_too)[0]

    def _plans(
        self,
        context: Context,
        message: Message,
        each: Sequence[Choices],
        records_too: bool = True,
    ) -> list[SavePlan]:
        """A plan for each of these choices, from one look-up of the contacts and one of the
        ledger (a review plans both kinds)."""
        filer = context.filer
        people = participants(message, filer.addresses)
        matches = match(people, context.crm.find_contacts({p.address for p in people}))
        candidates = {contact.id for m in matches for contact in m.contacts}
        chosen = frozenset().union(*(c.contact_ids or frozenset() for c in each))
        added = []
        for contact_id in sorted(chosen - candidates):
            with suppress(NotFound):  # an unknown ID is reported by results_by_contact
                added.append(context.crm.contact(contact_id))
        with self.unit(reading=True) as session:
            filed = ledger.filed_as(
                session, context.tenant.id, {c.kind for c in each}, message.key,
                candidates | {c.id for c in added},
            )  # fmt: skip
        return [
            plan(
                message,
                matches,
                choices,
                options=context.tenant.options,
                filer=filer,
                background_account=context.tenant.background_account,
                already_filed=filed[choices.kind],
                added=[c for c in added if c.id in (choices.contact_ids or ())],
                records_too=records_too,
                capabilities=context.crm.capabilities,
            )
            for choices in each
        ]

    def _each_kind(
        self, context: Context, message: Message, choices: Choices
    ) -> tuple[SavePlan, dict[Kind, str | None]]:
        """The plan of these choices, and why a save of each kind would write nothing with
        them (None: it would write something): the other kind planned too, for its own
        Save button."""
        others = [
            replace(choices, kind=kind, activity_type=None, fields={})
            for kind in KINDS
            if kind != choices.kind
        ]
        outcome, *planned = self._plans(context, message, [choices, *others], records_too=False)
        refusals: dict[Kind, str | None] = {choices.kind: why_not_save(outcome)}
        refusals.update((c.kind, why_not_save(p)) for c, p in zip(others, planned, strict=True))
        return outcome, refusals

    # -- records that need someone ----------------------------------------------------------

    def records_to_check(
        self, context: Context, contact_id: str | None = None
    ) -> list[ledger.ToCheck]:
        """Unsure, failed and partial records (a save whose writer died found first)."""
        capabilities = context.crm.capabilities
        with self.unit() as session:
            ledger.recover(
                session, context.tenant.id, self.settings.clock(),
                crm=capabilities.crm, rewrite_abandoned=capabilities.rewrite_abandoned,
            )  # fmt: skip
            return ledger.to_check(session, context.tenant.id, contact_id)

    def records_report(
        self, context: Context, contact_id: str | None = None, to_check_only: bool = False
    ) -> tuple[list[StoredRecord], list[ledger.ToCheck]]:
        """What was filed (for a contact, or for all; none when only those to check are
        asked for), and the records that need someone (``mailfiler records``)."""
        filed = [] if to_check_only else self.filed_records(context, contact_id)
        return filed, self.records_to_check(context, contact_id)

    def reading(self, token: str, declared: int | None) -> Reading:
        """A message the caller is sending, taken as it comes (``Reading``): written to a
        file in their folder, counted against their quota at once for the length their
        request declared."""
        with self.signed_in(token, reading=True) as context:
            quota = self.settings.upload_quota_bytes
            user = context.signed_in_user
            arrival = self.incoming.arrival(context.tenant.id, user.id, quota, declared)
        return Reading(self, token, context, arrival)

    def ask_the_crm(
        self, context: Context, number: int | None = None
    ) -> list[tuple[ledger.ToCheck, Found]]:
        """Unsure records (one, by its number, or all of the organisation's) looked for in
        the CRM and settled where it can tell."""
        with self.unit(reading=True) as session:
            unsure = ledger.to_check(session, context.tenant.id, states=(ledger.UNSURE,))
        entries = [e for e in unsure if number is None or e.number == number]
        if number is not None and not entries:
            raise NotFound(f"no unsure record has the number {number}")
        return saving.ask_the_crm(
            self.unit, context.tenant, context.crm, entries, self.settings.clock
        )

    def settle_record(
        self, context: Context, number: int, landed: str | None, by: str
    ) -> ledger.ToCheck:
        """Someone checked the CRM: the record is there (with its key), or is to be sent again."""
        with self.unit() as session:
            return ledger.settle_by_hand(
                session, context.tenant.id, number, landed=landed, by=by,
                moment=self.settings.clock(), crm=context.crm.capabilities.crm,
            )  # fmt: skip

    # -- the web service's read -> review -> save ------------------------------------------

    def _upload(
        self,
        context: Context,
        arrival: uploads.Arrival,
        mode: str = "read",
        attachments_missing: bool = False,
        form: str = "message",
    ) -> Review:
        """Read a message that arrived (its file, or its fields: ``uploads.FORMS``), keep it
        for the save, and say what saving it would do."""
        message = self._read_as(form, arrival.data())
        user = context.signed_in_user
        key = self._upload_key()
        ref = uploads.store(
            arrival, key, context.tenant.id, user.id, mode, attachments_missing, form
        )
        self.messages.put(ref, message)
        return self._review(context, ref, message, mode, attachments_missing)

    def review(self, context: Context, ref: str) -> Review:
        upload = self._find(context, ref)
        message = self._message(ref, upload)
        return self._review(context, ref, message, upload.mode, upload.attachments_missing)

    def preview(self, context: Context, ref: str, choices: Choices) -> Preview:
        """What saving a message read before would do now, with these choices: the same
        planning the save runs (the pane asks at each change, and decides nothing itself)."""
        message = self._message(ref, self._find(context, ref))
        outcome, refusals = self._each_kind(context, message, choices)
        return Preview(message, outcome, outcome.files, refusals[choices.kind], refusals)

    def _upload_key(self) -> bytes:
        if self._key is None:  # read once: it never changes
            with self.unit(reading=True) as session:
                self._key = uploads.signing_key(session)
        return self._key

    def _find(self, context: Context, ref: str) -> uploads.Upload:
        key = self._upload_key()
        return uploads.find(key, context.tenant.id, context.signed_in_user.id, ref)

    def _message(self, ref: str, upload: uploads.Upload) -> Message:
        cached = self.messages.get(ref)
        if cached is not None:
            return cached
        message = self._read_as(upload.form, self.incoming.get(upload))
        self.messages.put(ref, message)
        return message

    def _read_as(self, form: str, data: bytes) -> Message:
        """A message from its file (read in a reader process: a sender's bytes), or from
        the fields the pane sent (checked when they came): a ``Message`` directly, its .eml
        written only if one is saved."""
        if form == "fields":
            return message_from_fields(json.loads(data))
        return self.read(data)

    def _review(
        self, context: Context, ref: str, message: Message, mode: str, attachments_missing: bool
    ) -> Review:
        options = context.tenant.options
        roles = context.filer.roles
        actions = {
            "interaction": interaction_action(options, roles),
            "activity": activity_action(options, roles),
            "add_contact": add_contact_action(options, roles),
        }
        kind: Kind = "interaction"
        if actions["interaction"].state != "allowed" and actions["activity"].state == "allowed":
            kind = "activity"
        described = context.crm.capabilities.activity_field_types
        types = []
        if actions["activity"].state == "allowed":
            types = [
                (t, activity_fields(t, message, {}, described=described))
                for t in options.activity_types
                if activity_action(options, roles, t).state == "allowed"
            ]
        outcome, refusals = self._each_kind(context, message, Choices(kind=kind))
        return Review(
            ref, message, outcome, outcome.files, actions, types, mode, attachments_missing,
            refusals,
        )  # fmt: skip

    # -- signing in --------------------------------------------------------------------------

    def sign_in(self, cloud_id: str, username: str, password: str, client: str) -> SignedIn:
        """A bearer token for the user (their CRM checks the password where it keeps them);
        ``Unauthenticated`` or ``Throttled`` otherwise, counted as ``signin.attempt`` says."""
        attempt = signin.attempt(
            self.unit, cloud_id, username, password, client, remote=self._password_check
        )
        if attempt.failure is not None:
            raise attempt.failure
        assert attempt.user and attempt.token and attempt.expires_at
        with self.unit(reading=True) as session:
            tenant = accounts.tenant(session, cloud_id)
        return SignedIn(attempt.token, attempt.expires_at, tenant, accounts.member(attempt.user))

    def sign_out(self, token: str) -> None:
        with self.unit() as session:
            signin.sign_out(session, token)

    def _password_check(self, tenant: Tenant) -> UserCheck | None:
        sign_in = registry.of(tenant).sign_in
        return sign_in(tenant, self.needs()) if sign_in else None

    # -- the CRM's set-up -------------------------------------------------------------------

    def check_crm(self, cloud_id: str) -> SetUpCheck:
        """Check the organisation's CRM set-up (``mailfiler imis check``) and keep what it
        learnt of the site. Three steps, none inside another: the organisation read in a
        short unit, the CRM asked outside any (it may take seconds: no transaction waits on
        it), what was learnt stored in another short unit."""
        with self.unit(reading=True) as session:
            tenant = accounts.tenant(session, cloud_id)
        remote = registry.of(tenant).remote
        if remote is None:
            raise BadRequest(
                f"{tenant.cloud_id} files into mailfiler's built-in CRM: it has no CRM set-up "
                "to check"
            )
        checked = remote.set_up_check(tenant, self.needs())
        for line in checked.lines:
            if not line.ok:  # what iMIS answered is for the administrator's log only
                log.warning(
                    "the CRM set-up of %s: %s: %s (%s)",
                    tenant.cloud_id, line.what, line.says, line.detail or "no detail",
                )  # fmt: skip
        kept = checked.facts_to_store(tenant.crm_settings.site)
        if kept is not None:
            with self.unit() as session:
                accounts.set_site_facts(session, cloud_id, kept, for_site=checked.facts.site)
        return checked

    def move_files_into_database(self) -> Moved:
        """The attachment contents kept in the blob folder, moved into the database
        (``mailfiler move-files``). Messages read and not saved yet are not moved: they are
        read again."""
        if not isinstance(self.blobs, DatabaseBlobs):
            raise BadRequest(
                "this installation keeps files in a folder (MAILFILER_FILES_IN=folder, or "
                "SQLite): set MAILFILER_FILES_IN=database first"
            )
        return move_into_database(self.unit, FolderBlobs(self.settings.blobs_dir), self.blobs)

    def rotate_key(self) -> stored_secrets.Rotation:
        """Every stored secret re-encrypted with the first key (``mailfiler rotate-key``)."""
        with self.unit() as session:
            return stored_secrets.rotate(session)

    def set_up_warnings(self) -> list[str]:
        """What the server's administrator must fix in this installation before some of its
        organisations can work (said once, when ``mailfiler serve`` starts): the keys that
        open the background passwords kept for their CRMs; where files are kept."""
        return self._files_warnings() + self._key_warnings()

    def _files_warnings(self) -> list[str]:
        """Files kept in a folder by a server of a database others can share: theirs differ."""
        shared = self.settings.database_url.startswith("postgresql")
        if not shared or self.settings.files_in_database:
            return []
        where = self.settings.blobs_dir.resolve()
        return [
            f"attachment contents and messages waiting to be saved are kept in {where} "
            "(MAILFILER_FILES_IN=folder): every other server on this database needs that same "
            "folder, or it cannot save what this one read nor download what it filed; unset "
            "MAILFILER_FILES_IN to keep them in the database (then run mailfiler move-files)"
        ]

    def _key_warnings(self) -> list[str]:
        with self.unit(reading=True) as session:
            stored = accounts.stored_background_passwords(session)
        if not stored:
            return []
        try:
            keys = stored_secrets.keys()
        except stored_secrets.KeyUnusable as error:
            return [f"{error}. Until it is, staff of {_named(stored)} cannot sign in or save"]
        unreadable = []
        for cloud_id, secret in stored.items():
            try:
                keys.decrypt(secret)
            except stored_secrets.Unreadable:
                unreadable.append(cloud_id)
        if not unreadable:
            return []
        return [
            f"no key in {stored_secrets.KEY_VARIABLE} opens the background password of "
            f"{_named(unreadable)}: put back the key it was stored with (then run mailfiler "
            "rotate-key), or set the password again (mailfiler options set "
            "--background-password-stdin). Until then, their staff cannot sign in or save"
        ]

    # -- organisations and their set-up ------------------------------------------------------

    def create_organisation(
        self,
        cloud_id: str,
        name: str,
        background_account: str,
        edition: str = "enterprise",
        *,
        crm: str = "builtin",
        url: str | None = None,
        background_password: str | None = None,
    ) -> Tenant:
        return organisations.create(
            self.unit, cloud_id, name, background_account, edition, crm=crm, url=url,
            background_password=background_password,
            allow_local=self.settings.allow_local_crm,
        )  # fmt: skip

    def organisation(self, cloud_id: str) -> Tenant:
        with self.unit(reading=True) as session:
            return accounts.tenant(session, cloud_id)

    def change_options(
        self, context: Context, options: Options, crm: organisations.CrmChange
    ) -> Tenant:
        """Replace an organisation's options and, with ``crm``, where its CRM is: checked
        first (its address looked up, the CRM asked about activity types set up anew), then
        kept in one short unit of work."""
        tenant = context.tenant
        change = organisations.checked_change(tenant, crm, self.settings.allow_local_crm)
        organisations.check_activity_types(tenant, options, change, needs=self.needs())
        with self.unit() as session:
            tenant = organisations.store_change(session, tenant, change)
            return accounts.set_options(session, tenant.cloud_id, options)

    def change_settings(
        self, cloud_id: str, changes: Mapping[str, Any], crm: organisations.CrmChange
    ) -> Tenant:
        """Options given by name (``mailfiler options set``), and where the CRM is."""
        tenant = self.organisation(cloud_id)
        change = organisations.checked_change(tenant, crm, self.settings.allow_local_crm)
        with self.unit() as session:
            tenant = organisations.store_change(session, tenant, change)
            merged = {**tenant.options.to_json(), **changes}
            return accounts.set_options(session, cloud_id, Options.from_json(merged))

    def import_contacts(
        self,
        cloud_id: str,
        rows: Iterable[ContactRow],
        progress: Callable[[int], None] = lambda done: None,
    ) -> tuple[int, int]:
        """Contacts added or updated from a file, all or none: (added, updated);
        ``progress(rows written so far)`` as it goes."""
        with self.unit() as session:
            tenant = accounts.tenant(session, cloud_id)
            plugin = registry.of(tenant)
            if plugin.contacts is None:
                raise BadRequest(
                    f"the contacts of {tenant.cloud_id} are in {plugin.label}: add them there"
                )
            # One unit for the whole file: all rows or none.
            return plugin.contacts(
                tenant, replace(self.needs(), units=lambda **_: nullcontext(session))
            ).upsert_contacts(rows, progress)

    # -- contacts ---------------------------------------------------------------------------

    def search_contacts(self, context: Context, text: str, limit: int = 20) -> list[Contact]:
        """Contacts by name or address. A user whose CRM signs them in (iMIS) searches as
        themselves, never as the background account: once their own CRM sign-in has ended,
        they sign in again (``Unauthenticated``). The command line searches as the
        organisation (no user token)."""
        access = context.user_access()
        signed_in_there = registry.of(context.tenant).sign_in is not None
        if access is None and signed_in_there and context.expires_at is not None:
            crm = context.crm.capabilities.crm
            raise Unauthenticated(f"your {crm} sign-in has ended: sign in again")
        return context.crm.search(text, limit=limit, as_user=access)

    def add_contact(
        self, context: Context, full_name: str, emails: Sequence[str], organization: str = ""
    ) -> Contact:
        """A new contact in the CRM, for the "add new contact" roles only."""
        action = add_contact_action(context.tenant.options, context.filer.roles)
        if action.state != "allowed":
            raise Refused(action.reason)
        return context.crm.create_contact(full_name, emails, organization)

    def contact_page(
        self, context: Context, contact_id: str, limit: int, offset: int
    ) -> ContactPage:
        """A contact, a page of what was filed for them (newest first), and their records
        that need someone."""
        contact = context.crm.contact(contact_id)
        records = context.records.records(contact_id, limit=limit, offset=offset)  # a page
        total = context.records.count_records(contact_id)
        to_check = self.records_to_check(context, contact_id)
        return ContactPage(contact, records, total, to_check)

    def filed_records(
        self, context: Context, contact_id: str | None = None, limit: int | None = None
    ) -> list[StoredRecord]:
        """What was filed (for a contact, or for all), newest first."""
        return context.records.records(contact_id, limit=limit)

    def attachment(self, context: Context, attachment_id: str) -> tuple[StoredFile, bytes]:
        """A file kept with a filed record, and its bytes."""
        return context.records.attachment(attachment_id)

    def crm_activity_types(self, context: Context) -> list[ActivityType]:
        """The activity types the CRM has, to set up (from iMIS for an iMIS organisation)."""
        return context.crm.activity_types()

    # -- users ----------------------------------------------------------------------------

    def users(self, context: Context) -> list[accounts.Member]:
        with self.unit(reading=True) as session:
            return list(organisations.users(session, context.tenant))

    def change_user(
        self, context: Context, username: str, change: organisations.UserChange
    ) -> accounts.Member:
        with self.unit() as session:
            return organisations.change_user(session, context.tenant, username, change)

    def add_user(
        self,
        context: Context,
        username: str,
        email: str = "",
        roles: Iterable[str] = (),
        password: str | None = None,
    ) -> accounts.Member:
        """A user of mailfiler's own. Refused for an organisation whose CRM signs its users
        in (iMIS): its users are the CRM's, added there, and remembered at their first
        sign-in."""
        if registry.of(context.tenant).sign_in is not None:
            crm, name = context.crm.capabilities.crm, context.tenant.cloud_id
            raise BadRequest(f"{name}'s users sign in with their {crm} accounts: add them in {crm}")
        with self.unit() as session:
            row = accounts.add_user(session, context.tenant, username, email, roles, password)
            return accounts.member(row)


class Reading:
    """A message on its way in (``Service.reading``): the face writes what comes to
    ``arrival``, then asks for its review, or discards it when the sender hangs up."""

    def __init__(
        self, service: Service, token: str, context: Context, arrival: uploads.Arrival
    ) -> None:
        self._service = service
        self._token = token
        self.context = context  # as signed in when it began
        self.arrival = arrival

    def review(
        self, mode: str, attachments_missing: bool, form: str, *, sign_in_again: bool = False
    ) -> Review:
        """Read what arrived, keep it for the save, and say what saving it would do.
        ``sign_in_again``: after a long upload, the caller is checked again (signed out or
        disabled meanwhile: refused), and ``context`` is their sign-in renewed."""
        if sign_in_again:
            with self._service.signed_in(self._token, reading=True) as context:
                self.context = context
        return self._service._upload(self.context, self.arrival, mode, attachments_missing, form)

    def discard(self) -> None:
        self.arrival.discard()


@dataclass(frozen=True)
class CrmView:
    """An organisation's CRM settings as its administrators see them (the Options screen,
    ``mailfiler options show``): which CRM, where, as which account, whether a background
    password is kept (never the password itself), the mapping, and what the set-up check
    learnt of the site."""

    crm: str
    label: str
    remote: bool
    url: str | None
    background_account: str
    background_password_set: bool
    mapping: Mapping[str, Any]
    site: Mapping[str, Any] | None

    def to_json(self, with_site: bool = False) -> dict[str, Any]:
        shown = {**asdict(self), "mapping": dict(self.mapping)}
        if not with_site:
            del shown["site"]
        return shown


def crm_settings_view(tenant: Tenant) -> CrmView:
    plugin = registry.of(tenant)
    settings = tenant.crm_settings
    return CrmView(
        crm=tenant.crm, label=plugin.label, remote=plugin.remote is not None, url=settings.url,
        background_account=tenant.background_account,
        background_password_set=bool(tenant.background_secret),
        mapping=settings.mapping, site=settings.site,
    )  # fmt: skip


def _incoming(settings: Settings, units: Units) -> uploads.Incoming:
    """Where messages wait between review and save: beside the blobs; or, where files live in
    the database, there, arriving in a folder of this machine's own for this database."""
    if not settings.files_in_database:
        return uploads.Incoming(settings.blobs_dir / "incoming")
    database = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
    arriving = Path(tempfile.gettempdir()) / f"mailfiler-arriving-{database}"
    return uploads.Incoming(arriving, units)


def _named(cloud_ids: Iterable[str], most: int = 5) -> str:
    """Some organisations by their Cloud IDs: the first few, and how many more."""
    listed = list(cloud_ids)
    more = f" and {len(listed) - most} more" if len(listed) > most else ""
    return ", ".join(listed[:most]) + more


def _open_password(stored: str) -> StoredPassword:
    """A CRM's background password opened with this installation's keys. A key that cannot
    open it is the server administrator's to fix (said in their log); staff read one
    sentence."""
    try:
        opened = stored_secrets.background_password(stored)
    except (stored_secrets.KeyUnusable, stored_secrets.Unreadable) as error:
        log.error("a CRM's background password cannot be read: %s", error)
        raise ConnectorUnavailable(stored_secrets.NOT_SET_UP) from error
    return StoredPassword(opened.url, opened.account, opened.password)
