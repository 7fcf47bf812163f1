"""Attachment contents, stored once each in a folder, named by their SHA-256.

A file is written to a temporary name and renamed into place, so a reader
never sees half a file. Files are written before the transaction that points
at them commits; if it rolls back, the file stays unreferenced (harmless: a
later save of the same content reuses it).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from mailfiler.errors import NotFound, SystemFault


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, sha256: str | None = None, durable: bool = True) -> str:
        """Store ``data`` once. ``durable=False``: no flush to disk (uploads awaiting a save)."""
        digest = sha256 or sha256_of(data)
        # Plain os calls on strings, fewest system calls first: every message
        # read keeps its bytes here.
        target = os.path.join(self.root, digest[:2], digest[2:4], digest)
        if _size(target) == len(data):
            if durable:  # it may have been written by an upload, without the flush
                with open(target, "rb") as existing:
                    os.fsync(existing.fileno())
            return digest
        # Absent, or cut short by a crash before an unflushed write reached the disk.
        folder = os.path.dirname(target)
        temporary = os.path.join(folder, f".incoming-{secrets.token_hex(8)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            try:
                fd = os.open(temporary, flags, 0o640)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
                fd = os.open(temporary, flags, 0o640)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise SystemFault(f"an attachment could not be stored: {error.strerror}") from error
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as error:
            raise NotFound(f"the stored file {sha256[:12]}… is missing from {self.root}") from error


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None
