"""mailfiler's own tables: organisations and their users, and the built-in CRM.

The schema is created and changed only by the Alembic migrations beside this
file; these classes describe it for queries. Every row that belongs to an
organisation carries ``organisation_id`` so that every query can be scoped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column


def now() -> datetime:
    return datetime.now(UTC)


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
    # The highest numbered contact ID so far (0: none yet): a new contact takes
    # the next number (as iMIS's counters do) without reading every ID there is.
    last_contact_number: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now)


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


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("organisation_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    contact_id: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    full_name_key: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class ContactEmail(Base):
    __tablename__ = "contact_emails"
    __table_args__ = (
        UniqueConstraint("contact_pk", "address_key"),
        # The lookup every message read makes: which contacts hold this address?
        # On PostgreSQL the index holds the contact too, so it alone answers.
        Index(
            "ix_contact_emails_lookup",
            "organisation_id",
            "address_key",
            postgresql_include=["contact_pk"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_pk: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    address: Mapped[str] = mapped_column(String(320))
    address_key: Mapped[str] = mapped_column(String(320))
    position: Mapped[int] = mapped_column(Integer, default=0)


class _Record:
    """What an Interaction and an Activity share: who, what message, who saved it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_key: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(Text)
    # 0 for the first filing of a message to a contact; 1, 2 … only when the
    # organisation allows duplicates. Unique with the key: a race between two
    # saves of one message cannot write it twice.
    copy: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime] = mapped_column(default=now)

    @declared_attr
    def organisation_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organisations.id"))

    @declared_attr
    def contact_pk(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("contacts.id"))


class Interaction(_Record, Base):
    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("organisation_id", "contact_pk", "message_key", "copy"),
        Index("ix_interactions_timeline", "organisation_id", "contact_pk", "saved_at"),
        # "Was this message filed before?", asked on every read and save.
        Index("ix_interactions_message", "organisation_id", "message_key"),
    )

    to_line: Mapped[str] = mapped_column(String(100), default="")


class Activity(_Record, Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("organisation_id", "contact_pk", "message_key", "copy"),
        Index("ix_activities_timeline", "organisation_id", "contact_pk", "saved_at"),
        Index("ix_activities_message", "organisation_id", "message_key"),
    )

    activity_type: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Blob(Base):
    """One stored file content, whatever number of attachments point at it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=now)


class StoredAttachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("(interaction_id IS NULL) <> (activity_id IS NULL)", name="one_record"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    content_id: Mapped[str | None] = mapped_column(String(255))


# -- the web service (sign-in and the read -> review -> save flow) ----------------


class SignInSession(Base):
    """A bearer token, stored as its SHA-256 (the token itself is never kept)."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]


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
