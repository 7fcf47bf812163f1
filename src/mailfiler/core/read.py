"""Bytes to a ``Message``, whatever kind of file they came from.

The kind is told by the bytes, not the file name: the shared corpus has
RFC 5322 text named ".msg", and Outlook files arrive with any name.
"""

from __future__ import annotations

from mailfiler.core.contain import Contain, run_inline
from mailfiler.core.message import Message, message_id_key
from mailfiler.core.mime import read_rfc5322, top_headers
from mailfiler.core.msg import OLE_SIGNATURE, read_msg
from mailfiler.core.tnef import TNEF_SIGNATURE, as_message
from mailfiler.errors import InvalidMessage


def read_message(data: bytes, contain: Contain = run_inline) -> Message:
    """Read one message (.eml text, Outlook .msg, or a bare winmail.dat)."""
    if not data.strip():
        raise InvalidMessage("the file is empty")
    if data.startswith(OLE_SIGNATURE):
        return contain(read_msg, data)
    if data.startswith(TNEF_SIGNATURE):
        return contain(as_message, data)
    return read_rfc5322(data, contain)


# How far into a file its header section is looked for by ``filing_key_of``.
HEADER_LOOK_MAX = 64 * 1024


def filing_key_of(data: bytes) -> str | None:
    """The filing key the reader would give these bytes (``Message.key``), from the header
    section alone: for a bulk rerun to pass over what was filed without reading it. None
    when only a whole read can tell: no Message-ID, an Outlook file, an mbox "From " line,
    or a header section that does not end within the first 64 KB."""
    head = data[:HEADER_LOOK_MAX]
    if data.startswith((OLE_SIGNATURE, TNEF_SIGNATURE, b"From ")):
        return None
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=-1)
    if end < 0:
        return None
    message_id = top_headers(head[: end + 4]).message_id
    return message_id_key(message_id) if message_id else None


def kind_of(data: bytes) -> str:
    """What a file looks like, for listings: "Outlook .msg", "winmail.dat", "mbox", "email"."""
    if data.startswith(OLE_SIGNATURE):
        return "Outlook .msg"
    if data.startswith(TNEF_SIGNATURE):
        return "winmail.dat"
    if data.startswith(b"From "):
        return "mbox"
    return "email"
