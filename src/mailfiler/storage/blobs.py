"""Attachment contents, stored once each, named by their SHA-256: in a folder, or in the
database (``Settings.files_in``).

In a folder (SQLite's default: beside its file), a file is written to a
temporary name and renamed into place, so a reader never sees half a file.
Files are written and flushed before the transaction that points at them
commits; if it rolls back, the file stays unreferenced (harmless: a later
save of the same content reuses it).

In the database (PostgreSQL's default), the content is a row written in the
same transaction as the records that point at it: every server on every
machine reads what any of them wrote, and a rollback leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfiler.errors import SystemFault
from mailfiler.storage.database import insert_into
from mailfiler.storage.tables import FileContent

log = logging.getLogger("mailfiler.storage")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    """Where file contents are kept (``FolderBlobs``, ``DatabaseBlobs``)."""

    def put(self, session: Session, data: bytes, sha256: str | None = None) -> str:
        """Keep ``data`` once (in ``session``'s transaction, or durably before it commits):
        its SHA-256."""
        ...

    def get(self, session: Session, sha256: str) -> bytes | None:
        """The content; None when it is missing (the server's log says where it looked)."""
        ...


class FolderBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, session: Session, data: bytes, sha256: str | None = None) -> str:
        """Store ``data`` once, flushed to disk before the save that points at it commits."""
        digest = sha256 or sha256_of(data)
        target = self.path(digest)
        if target.exists():
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.parent / f".incoming-{secrets.token_hex(8)}"
            try:
                with open(temporary, "xb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as error:
            raise SystemFault(f"an attachment could not be stored: {error.strerror}") from error
        return digest

    def get(self, session: Session, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            log.error("the stored file %s is missing from %s", sha256, self.root)
            return None

    def stored(self) -> Iterator[tuple[str, Path]]:
        """Every content in the folder: (SHA-256, its file)."""
        for path in sorted(self.root.glob("??/??/*")):
            if path.is_file() and len(path.name) == 64 and not path.name.startswith("."):
                yield path.name, path


class DatabaseBlobs:
    def put(self, session: Session, data: bytes, sha256: str | None = None) -> str:
        digest = sha256 or sha256_of(data)
        statement = insert_into(session, FileContent).values(sha256=digest, data=data)
        session.execute(statement.on_conflict_do_nothing())
        return digest

    def get(self, session: Session, sha256: str) -> bytes | None:
        data = session.scalar(select(FileContent.data).where(FileContent.sha256 == sha256))
        if data is None:
            log.error("the stored file %s is missing from the database", sha256)
        return data

    def has(self, session: Session, sha256: str) -> bool:
        found = session.scalar(select(FileContent.sha256).where(FileContent.sha256 == sha256))
        return found is not None


def blob_store(in_database: bool, folder: Path) -> BlobStore:
    """The store ``Settings.files_in`` names."""
    return DatabaseBlobs() if in_database else FolderBlobs(folder)
