"""Messages read by the web service, kept until they are saved (the read -> review -> save flow).

The task pane posts a message once and saves it by reference, so a 100 MB
message is not uploaded twice. The bytes go to a folder of their own beside
the blobs (``Incoming``: named by content, so two users reading one message
keep it once). The reference
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
import os
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from mailfiler.core.message import Message
from mailfiler.errors import NotFound, SystemFault
from mailfiler.storage.blobs import sha256_of
from mailfiler.storage.tables import ServerKey

KEPT_FOR: Final = timedelta(hours=24)
PRUNE_EVERY: Final = timedelta(hours=1)
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


class Incoming:
    """Messages read and not saved yet: one flat folder, files named by their SHA-256.

    Kept apart from the blobs of saved records: nothing here is flushed to
    disk (an upload is only worth keeping until its save), one folder means no
    folder to make for each new file, and what nobody saved within a day is
    removed (now and then, by the process that reads messages).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self._pruned_at = 0.0

    def path(self, sha256: str) -> str:
        return os.path.join(self.folder, sha256)

    def keep(self, data: bytes) -> str:
        digest = sha256_of(data)
        target = self.path(digest)
        try:
            if os.stat(target).st_size == len(data):
                os.utime(target)  # read again: kept a day from now
                return digest
        except FileNotFoundError:
            pass
        # Absent, or cut short by a crash before the unflushed write reached the disk.
        temporary = os.path.join(self.folder, f".{digest}-{secrets.token_hex(4)}")
        try:
            try:
                out = open(temporary, "xb")  # noqa: SIM115 - closed below, before the rename
            except FileNotFoundError:
                os.makedirs(self.folder, exist_ok=True)
                out = open(temporary, "xb")  # noqa: SIM115
            with out:
                out.write(data)
            os.replace(temporary, target)
        except OSError as error:
            with suppress(OSError):
                os.unlink(temporary)
            raise SystemFault(f"the message could not be kept: {error.strerror}") from error
        self._prune_now_and_then()
        return digest

    def get(self, sha256: str) -> bytes:
        """The bytes kept; ``NotFound`` if they are gone or damaged (they were not flushed)."""
        try:
            with open(self.path(sha256), "rb") as kept:
                data = kept.read()
        except FileNotFoundError as error:
            raise NotFound(NOT_OPEN) from error
        if sha256_of(data) != sha256:
            raise NotFound(NOT_OPEN)
        return data

    def prune(self, now: float | None = None) -> int:
        """Remove what was last read over a day ago; how many files were removed."""
        cutoff = (time.time() if now is None else now) - KEPT_FOR.total_seconds()
        removed = 0
        with suppress(FileNotFoundError), os.scandir(self.folder) as entries:
            for entry in entries:
                with suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._pruned_at > PRUNE_EVERY.total_seconds():
            self._pruned_at = time.monotonic()
            self.prune()


def store(
    incoming: Incoming,
    key: bytes,
    organisation_id: int,
    user_id: int,
    data: bytes,
    mode: str,
    attachments_missing: bool,
) -> str:
    """Keep the bytes; the signed reference naming them."""
    digest = incoming.keep(data)
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
    if not ref.isascii() or not hmac.compare_digest(signature, _signature(key, fields)):
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
