"""The built-in CRM's tables: contacts and their addresses, interactions, activities, files.

They live in mailfiler's database, beside its own tables (``storage.tables``),
and are created by the same migrations (``storage/migrations``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from mailfiler.storage.tables import Base, now


class ContactNumber(Base):
    """The highest numbered contact ID of an organisation's built-in CRM so far: a new
    contact takes the next number (as iMIS's counters do) without reading every ID there
    is. The built-in CRM's own: an organisation filing elsewhere has none."""

    __tablename__ = "contact_numbers"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(BigInteger)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("organisation_id", "contact_id"),
        Index("ix_contacts_name_order", "organisation_id", "full_name_key", "contact_id"),
        # PostgreSQL: a trigram index (migration 0009) serves substring search.
        Index(
            "ix_contacts_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    contact_id: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    full_name_key: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    # Name, organization and addresses, folded (core/search.py): what a search looks in.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


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
    # The filing ledger's key it was written under (``PlannedRecord.filing_key``): unique,
    # so that writing the same key again finds this record (migration 0016).
    filing_key: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(100))
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime] = mapped_column(default=now)
    # The message as its reader saw it: who sent it, to whom, and when (migration 0010).
    sender: Mapped[str] = mapped_column(Text, default="", server_default="")
    recipients: Mapped[str] = mapped_column(Text, default="", server_default="")
    sent_at: Mapped[datetime | None]

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
        Index("uq_interactions_filing_key", "organisation_id", "filing_key", unique=True),
    )

    to_line: Mapped[str] = mapped_column(String(100), default="")


class Activity(_Record, Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("organisation_id", "contact_pk", "message_key", "copy"),
        Index("ix_activities_timeline", "organisation_id", "contact_pk", "saved_at"),
        Index("uq_activities_filing_key", "organisation_id", "filing_key", unique=True),
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
