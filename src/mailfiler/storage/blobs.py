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

    def put(self, data: bytes, sha256: str | None = None) -> str:
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

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as error:
            raise NotFound(f"the stored file {sha256[:12]}… is missing from {self.root}") from error
