"""Messages read by the web service, kept until they are saved (the read -> review -> save flow).

The task pane posts a message once and saves it by reference, so a 100 MB
message is not uploaded twice. The bytes go to the blob folder (content-
addressed, so two users uploading one message store it once) and a row names
them; the parsed message is kept in a small in-process cache so that the
save usually does not parse it again.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from datetime import timedelta
from typing import Final

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mailfiler.connectors.builtin.blobs import BlobStore, sha256_of
from mailfiler.connectors.builtin.tables import Upload, now
from mailfiler.core.message import Message
from mailfiler.errors import NotFound

KEPT_FOR: Final = timedelta(hours=24)
KEPT_IN_ROW: Final = 256 * 1024


class MessageCache:
    """The most recently read messages, within a budget of attachment bytes."""

    def __init__(self, budget: int = 256 * 1024 * 1024) -> None:
        self.budget = budget
        self._items: OrderedDict[str, tuple[Message, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, ref: str) -> Message | None:
        with self._lock:
            item = self._items.get(ref)
            if item is None:
                return None
            self._items.move_to_end(ref)
            return item[0]

    def put(self, ref: str, message: Message) -> None:
        size = sum(a.size for a in message.attachments) + len(message.original or b"")
        if size > self.budget // 4:
            return  # one huge message would push everything else out
        with self._lock:
            self._items[ref] = (message, size)
            self._size += size
            while self._size > self.budget and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped


# Built once: every message read runs it.
_KEEP = insert(Upload)


def store(
    session: Session,
    blobs: BlobStore,
    organisation_id: int,
    user_id: int,
    data: bytes,
    mode: str,
    attachments_missing: bool,
) -> str:
    digest = sha256_of(data)
    small = len(data) <= KEPT_IN_ROW
    if not small:
        blobs.put(data, digest, durable=False)
    ref = secrets.token_urlsafe(18)
    session.connection().execute(
        _KEEP,
        {
            "ref": ref,
            "organisation_id": organisation_id,
            "user_id": user_id,
            "sha256": digest,
            "size": len(data),
            "content": data if small else None,
            "mode": mode,
            "attachments_missing": attachments_missing,
            "created_at": now(),
        },
    )
    if secrets.randbelow(100) == 0:
        # Now and then, forget uploads nobody saved within a day (their bytes
        # stay in the blob folder: a saved record or another upload may share them).
        session.execute(delete(Upload).where(Upload.created_at < now() - KEPT_FOR))
    return ref


def find(session: Session, organisation_id: int, user_id: int, ref: str) -> Upload:
    """An upload of this user's; ``NotFound`` for anyone else's, or once it has expired."""
    row = session.scalar(
        select(Upload).where(
            Upload.ref == ref,
            Upload.organisation_id == organisation_id,
            Upload.user_id == user_id,
            Upload.created_at >= now() - KEPT_FOR,
        )
    )
    if row is None:
        raise NotFound("this message is no longer open: read it again")
    return row


def content(row: Upload, blobs: BlobStore) -> bytes:
    return row.content if row.content is not None else blobs.get(row.sha256)
