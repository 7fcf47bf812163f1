"""Bytes to a ``Message``, whatever kind of file they came from.

The kind is told by the bytes, not the file name: the shared corpus has
RFC 5322 text named ".msg", and Outlook files arrive with any name.
"""

from __future__ import annotations

from mailfiler.core.contain import Contain, run_inline
from mailfiler.core.message import Message
from mailfiler.core.mime import read_rfc5322
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


def kind_of(data: bytes) -> str:
    """What a file looks like, for listings: "Outlook .msg", "winmail.dat", "mbox", "email"."""
    if data.startswith(OLE_SIGNATURE):
        return "Outlook .msg"
    if data.startswith(TNEF_SIGNATURE):
        return "winmail.dat"
    if data.startswith(b"From "):
        return "mbox"
    return "email"
