"""What mailfiler knows about a message once it is read: plain frozen values.

Every reader (RFC 5322 text, Outlook .msg, TNEF, a message being composed)
produces the same ``Message``, so the rules after reading never ask where a
message came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from mailfiler.core.addresses import address_key
from mailfiler.core.filenames import clean_filename, default_filename
from mailfiler.core.mime_params import clean_content_id, clean_content_type

Format = Literal["eml", "msg", "tnef", "composed"]


@dataclass(frozen=True)
class Address:
    """One mailbox on a From / To / Cc / Bcc line."""

    address: str
    name: str = ""

    @property
    def key(self) -> str:
        """The form addresses are compared in (see ``addresses.address_key``)."""
        return address_key(self.address)


@dataclass(frozen=True)
class Attachment:
    """A file carried by the message, decoded, with the name its sender gave it."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False

    def __post_init__(self) -> None:
        # What a sender wrote here is stored and sent back in HTTP headers and
        # pages: whichever reader made this, it is made safe once, here.
        content_type = clean_content_type(self.content_type)
        filename = clean_filename(self.filename) or default_filename(content_type, 1)
        object.__setattr__(self, "content_type", content_type)
        object.__setattr__(self, "content_id", clean_content_id(self.content_id))
        object.__setattr__(self, "filename", filename)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class BodyPart:
    """One piece of the body. An alternative carries both forms; a single part carries one."""

    html: str | None = None
    text: str | None = None


def message_id_key(message_id: str) -> str:
    """The filing key of a message that has this Message-ID (``Message.key``)."""
    bare = message_id.strip().strip("<>").strip()
    if len(bare) <= 400:
        return "mid:" + bare
    return "mid-sha256:" + hashlib.sha256(bare.encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    subject: str = ""
    sender: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    date: datetime | None = None
    message_id: str | None = None
    body: tuple[BodyPart, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # The message as RFC 5322 bytes when it arrived that way: saved untouched
    # when the user asks for the whole message as an .eml attachment.
    original: bytes | None = field(default=None, repr=False)
    format: Format = "eml"
    # What the reader noticed and worked around, in sentences (a wrong charset,
    # a missing closing boundary): shown by `inspect` so nothing is silent.
    notes: tuple[str, ...] = ()

    @property
    def has_html(self) -> bool:
        return any(part.html is not None for part in self.body)

    @property
    def key(self) -> str:
        """What makes two filings "the same message" (see DESIGN: idempotent saves).

        The Message-ID when there is one (RFC 5322 §3.6.4 makes it unique
        per message); otherwise a hash of the headers that identify it.
        """
        if self.message_id:
            return message_id_key(self.message_id)
        return "sha256:" + hashlib.sha256(self.canonical_headers().encode()).hexdigest()

    def canonical_headers(self) -> str:
        def line(addresses: tuple[Address, ...]) -> str:
            return ",".join(sorted(a.key for a in addresses))

        date = self.date.astimezone(UTC).isoformat() if self.date else ""
        subject = " ".join(self.subject.split())
        return "\n".join(
            [
                "from:" + line(self.sender),
                "to:" + line(self.to),
                "cc:" + line(self.cc),
                "date:" + date,
                "subject:" + subject,
            ]
        )
