"""Messages read by the web service, kept until they are saved (the read -> review -> save flow).

The task pane posts a message once and saves it by reference, so a 100 MB
message is not uploaded twice. The bytes go to the blob folder (content-
addressed, so two users reading one message keep it once; not flushed to
disk, as an upload is only worth keeping until its save). The reference
handed back says whose upload it is, when it was read and which bytes it
names, and is signed with the installation's key (HMAC-SHA256): the save
can trust it without a database row, so reading a message writes nothing
to the database. The parsed message is also kept in a small in-process
cache so that the save usually does not parse it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy.orm import Session

from mailfiler.connectors.builtin.blobs import BlobStore, sha256_of
from mailfiler.connectors.builtin.tables import ServerKey
from mailfiler.core.message import Message
from mailfiler.errors import NotFound, SystemFault

KEPT_FOR: Final = timedelta(hours=24)
KEY_NAME: Final = "upload-references"
NOT_OPEN: Final = "this message is no longer open: read it again"
MODES: Final = ("read", "compose")


@dataclass(frozen=True)
class Upload:
    organisation_id: int
    user_id: int
    read_at: int  # seconds since the epoch
    mode: str  # "compose" when the message is being written: its Bcc line is the sender's own
    attachments_missing: bool
    sha256: str


def signing_key(session: Session) -> bytes:
    row = session.get(ServerKey, KEY_NAME)
    if row is None:  # pragma: no cover - made by migration 0005
        raise SystemFault("the database has no key for upload references: run `mailfiler init`")
    return bytes.fromhex(row.secret)


def store(
    blobs: BlobStore,
    key: bytes,
    organisation_id: int,
    user_id: int,
    data: bytes,
    mode: str,
    attachments_missing: bool,
) -> str:
    """Keep the bytes; the signed reference naming them."""
    digest = blobs.put(data, sha256_of(data), durable=False)
    upload = Upload(organisation_id, user_id, int(time.time()), mode, attachments_missing, digest)
    return reference(key, upload)


def reference(key: bytes, upload: Upload) -> str:
    digest = _b64(bytes.fromhex(upload.sha256))
    fields = (
        f"{upload.organisation_id}.{upload.user_id}.{upload.read_at}.{upload.mode}."
        f"{int(upload.attachments_missing)}.{digest}"
    )
    return f"{fields}.{_signature(key, fields)}"


def find(
    key: bytes, organisation_id: int, user_id: int, ref: str, now: float | None = None
) -> Upload:
    """The upload a reference names, if it is this user's and still open; else ``NotFound``."""
    fields, _, signature = ref.rpartition(".")
    if not hmac.compare_digest(signature, _signature(key, fields)):
        raise NotFound(NOT_OPEN)
    try:
        org, user, read_at, mode, missing, digest = fields.split(".")
        upload = Upload(
            int(org), int(user), int(read_at), mode, missing == "1", _unb64(digest).hex()
        )
    except (ValueError, binascii.Error) as error:  # pragma: no cover - signed by us
        raise NotFound(NOT_OPEN) from error
    moment = time.time() if now is None else now
    if (
        (upload.organisation_id, upload.user_id) != (organisation_id, user_id)
        or upload.mode not in MODES
        or moment - upload.read_at > KEPT_FOR.total_seconds()
    ):
        raise NotFound(NOT_OPEN)
    return upload


def content(upload: Upload, blobs: BlobStore) -> bytes:
    """The bytes read; ``NotFound`` if they are gone or damaged (they were not flushed)."""
    try:
        data = blobs.get(upload.sha256)
    except NotFound as error:
        raise NotFound(NOT_OPEN) from error
    if sha256_of(data) != upload.sha256:
        raise NotFound(NOT_OPEN)
    return data


def _signature(key: bytes, fields: str) -> str:
    return _b64(hmac.new(key, fields.encode(), hashlib.sha256).digest()[:18])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MessageCache:
    """The most recently read messages, within a budget of bytes and of messages.

    The count matters as much as the bytes: every cached message is objects
    the garbage collector walks through, and a miss only costs reading the
    bytes kept in the blob folder again.
    """

    def __init__(self, budget: int = 256 * 1024 * 1024, most: int = 500) -> None:
        self.budget = budget
        self.most = most
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
            while (self._size > self.budget or len(self._items) > self.most) and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped
