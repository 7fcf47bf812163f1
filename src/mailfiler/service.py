"""The one seam every entry point calls: read -> match -> plan -> apply, in one unit of work.

The CLI, the HTTP API and the capture mailbox all file through ``Service``;
none of them opens a transaction or talks to a connector itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mailfiler import accounts
from mailfiler.accounts import Tenant
from mailfiler.config import Settings
from mailfiler.connectors.builtin.blobs import BlobStore
from mailfiler.connectors.builtin.connector import BuiltinCRM, SaveRace
from mailfiler.connectors.builtin.database import Database
from mailfiler.connectors.builtin.tables import User
from mailfiler.core.contain import Contain
from mailfiler.core.match import match
from mailfiler.core.message import Message
from mailfiler.core.people import participants
from mailfiler.core.plan import Choices, FileOutcome, SavePlan, plan
from mailfiler.core.read import read_message
from mailfiler.errors import InvalidMessage, Refused, SystemFault
from mailfiler.sandbox import run_limited

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Everything one unit of work needs: the session, the organisation, the user, the CRM."""

    session: Session
    tenant: Tenant
    user: User | None
    crm: BuiltinCRM


class Service:
    def __init__(
        self,
        settings: Settings,
        database: Database | None = None,
        contain: Contain = run_limited,
    ) -> None:
        self.settings = settings
        self.database = database or Database(settings.database_url)
        self.blobs = BlobStore(settings.blobs_dir)
        self.contain = contain

    def migrate(self) -> None:
        self.database.migrate()

    # -- units of work ---------------------------------------------------------------

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """A transaction; storage failures become ``SystemFault`` (nothing half-written)."""
        try:
            with self.database.unit_of_work() as session:
                yield session
        except SQLAlchemyError as error:
            raise SystemFault(f"the database failed: {type(error).__name__}") from error

    @contextmanager
    def context(self, cloud_id: str, username: str | None = None) -> Iterator[Context]:
        with self.unit() as session:
            tenant = accounts.tenant(session, cloud_id)
            user = None
            if username is not None:
                user = accounts.user(session, tenant, username)
                if user.disabled:
                    raise Refused(f"user {user.username} is disabled")
            yield Context(session, tenant, user, BuiltinCRM(session, tenant.id, self.blobs))

    def run(self, cloud_id: str, username: str | None, work: Callable[[Context], T]) -> T:
        with self.context(cloud_id, username) as context:
            return work(context)

    # -- filing ---------------------------------------------------------------------------

    def read(self, data: bytes) -> Message:
        """Bytes to a message; ``InvalidMessage`` says why when they are not one."""
        if len(data) > self.settings.max_message_bytes:
            limit = self.settings.max_message_bytes // 2**20
            raise InvalidMessage(f"the message is larger than the {limit} MB limit")
        return read_message(data, self.contain)

    def inspect(self, cloud_id: str, username: str, message: Message, choices: Choices) -> SavePlan:
        """What filing would do, and why. Writes nothing."""
        with self.context(cloud_id, username) as context:
            return self._plan(context, message, choices)

    def file(self, cloud_id: str, username: str, message: Message, choices: Choices) -> SavePlan:
        """File the message: every record of the save lands, or none does."""
        for attempt in (1, 2):
            try:
                with self.context(cloud_id, username) as context:
                    decided = self._plan(context, message, choices)
                    return saved(decided, context.crm.apply(decided))
            except SaveRace:
                # Another save of this message won the race; planning again
                # now finds its records and reports them as duplicates.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan(self, context: Context, message: Message, choices: Choices) -> SavePlan:
        assert context.user is not None
        filer = accounts.filer(context.user)
        matches = match(participants(message, filer.addresses), context.crm)
        candidates = {contact.id for m in matches for contact in m.contacts}
        filed = context.crm.already_filed(choices.kind, message.key, candidates)
        return plan(
            message,
            matches,
            choices,
            context.tenant.options,
            filer,
            context.tenant.background_account,
            filed,
        )


def saved(decided: SavePlan, record_ids: dict[str, str]) -> SavePlan:
    """The plan as it turned out: what would be saved is now saved, with its record IDs."""
    people = tuple(
        replace(p, status="saved", record_id=record_ids.get(p.contact_id or ""))
        if p.status == "would_save"
        else p
        for p in decided.participants
    )
    return replace(
        decided,
        participants=people,
        files=tuple(_file_saved(f) for f in decided.files),
        eml=_file_saved(decided.eml) if decided.eml else None,
    )


def _file_saved(outcome: FileOutcome) -> FileOutcome:
    return replace(outcome, status="saved") if outcome.status == "would_save" else outcome
