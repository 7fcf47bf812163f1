"""mailfiler's own tables, whichever CRM an organisation files into.

Organisations (and the CRM each uses), their users, sign-in sessions and
throttling, the installation's keys, the activity-type set-up, and the
filing ledger. The schema is created and changed only by the Alembic
migrations in ``migrations/`` (which also create the built-in CRM's tables,
kept in the same database: see ``connectors/builtin/tables.py``); these
classes describe it for queries. Every row that belongs to an organisation
carries ``organisation_id`` so that every query can be scoped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mailfiler.clock import system_clock

# When a row is written, where its writer gives no moment (mailfiler/clock.py).
now = system_clock


class UTCDateTime(TypeDecorator[datetime]):
    """Moments stored and read back in UTC, with their zone (SQLite would drop it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    cloud_id: Mapped[str] = mapped_column(String(64))
    # Cloud IDs are typed by people: "acme" and "ACME" are one organisation.
    cloud_id_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    background_account: Mapped[str] = mapped_column(String(100))
    edition: Mapped[str] = mapped_column(String(20), default="enterprise")
    # The Options screen, but for the edition and activity types (their own columns and table).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Raised by every change of options: each server process keeps the parsed
    # options of an organisation until the version it reads differs.
    options_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Which CRM the organisation files into (connectors/registry.py), and its
    # settings there (for iMIS: the site's address and the entity mapping).
    crm: Mapped[str] = mapped_column(String(20), default="builtin", server_default="builtin")
    crm_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The background account's password for a remote CRM, encrypted with the
    # installation's MAILFILER_SECRET_KEY (storage/secrets.py); never sent back.
    background_secret: Mapped[str | None] = mapped_column(Text)


class ActivityTypeSetup(Base):
    """One activity type offered to an organisation's users ("Setup Activity Types")."""

    __tablename__ = "activity_types"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(default=False)
    # fields, default values, the message-token mapping and the roles, as JSON
    setup: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organisation_id", "username_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    username_key: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(default=False)
    # Tokens issued before this moment are refused (a password change or a
    # disable cuts existing sessions off at once).
    credentials_changed_at: Mapped[datetime] = mapped_column(default=now)
    created_at: Mapped[datetime] = mapped_column(default=now)


# -- the web service (sign-in and the read -> review -> save flow) ----------------


class SignInSession(Base):
    """A bearer token, stored as its SHA-256 (the token itself is never kept)."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    # The user's own token for a remote CRM (iMIS), encrypted (storage/secrets.py):
    # searches run under their permissions. None for the built-in CRM.
    crm_token: Mapped[str | None] = mapped_column(Text)


class SignInThrottle(Base):
    """Failed sign-ins counted per user and per client address (see api/throttle.py)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=now)
    blocked_until: Mapped[datetime | None]


class ServerKey(Base):
    """A secret of this installation's, shared by its server processes (made by a migration)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))


class FilingEntry(Base):
    """One record mailfiler filed (or is filing) for one contact: the filing ledger.

    Whatever the CRM, "already saved" and "duplicate" are answered from here.
    A save reserves its entries first (``state`` "pending", with who is
    writing); the unique key makes two concurrent saves of one message for one
    contact end in one record. Then the CRM is written, and each entry is
    settled (``storage.ledger``): "saved" with the CRM's record ID; "partial"
    when some of its files did not land; "failed" when the CRM refused it (a
    later save writes it); "unsure" when the CRM never answered, or its writer
    died, so that it may be there: never sent again until someone settles it.
    """

    __tablename__ = "filing_ledger"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id", "contact_id", "kind", "message_key", "copy", name="uq_filing"
        ),
        Index("ix_filing_ledger_message", "organisation_id", "kind", "message_key"),
        Index("ix_filing_ledger_contact", "organisation_id", "contact_id", "saved_at"),
        Index("ix_filing_ledger_state", "organisation_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    contact_id: Mapped[str] = mapped_column(String(64))  # the CRM's contact ID
    kind: Mapped[str] = mapped_column(String(20))  # "interaction" or "activity"
    message_key: Mapped[str] = mapped_column(String(500))
    copy: Mapped[int] = mapped_column(Integer)  # 0; 1, 2 ... when duplicates are allowed
    # "pending", "saved", "partial", "failed" or "unsure" (see above)
    state: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[str | None] = mapped_column(String(100))  # the CRM's ID, once saved
    subject: Mapped[str] = mapped_column(Text, default="")
    saved_by: Mapped[str] = mapped_column(String(100))  # who really saved it
    reserved_at: Mapped[datetime]
    saved_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)  # why it is failed, unsure or partial
    # The process writing a pending entry (storage.writers), and when it last said
    # it was alive: a rerun tells at once whether it died.
    writer: Mapped[str | None] = mapped_column(String(300))
    alive_at: Mapped[datetime | None]
    # When the writer began sending it to the CRM: a dead writer's entry without it
    # was never sent, and is safe to write again whatever the CRM.
    sending_at: Mapped[datetime | None]
    files: Mapped[list[str] | None] = mapped_column(JSON)  # the record's files, by saved name
    activity_type: Mapped[str | None] = mapped_column(String(50))  # an Activity's type code
    # an Activity's date as sent (TRANSACTION_DATE, ISO): what it is looked for by
    activity_date: Mapped[str | None] = mapped_column(String(40))
    # The files that did not land ("partial") or were never sent ("unsure"):
    # [{"name": ..., "reason": ...}]
    missing_files: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


class FileContent(Base):
    """A filed attachment's content, by its SHA-256, when file contents live in the database
    (``Settings.files_in``: PostgreSQL, by default), so every server reads what any wrote."""

    __tablename__ = "file_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PendingMessage(Base):
    """A message read and not saved yet (``service.uploads``), when they live in the database:
    any server saves what another read. Kept a day from its last read; one user's are
    counted against their quota."""

    __tablename__ = "pending_messages"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_read: Mapped[datetime] = mapped_column(index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
