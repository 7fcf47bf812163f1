"""Outlook's TNEF wrapper (``winmail.dat``, MS-OXTNEF) opened into its files and body.

tnefparse trusts the lengths written in the file; ``oom.tnef`` in the corpus
makes it allocate without end. Call ``expand`` only through a ``Contain``.
"""

from __future__ import annotations

import logging
import mimetypes
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tnefparse
from striprtf.striprtf import rtf_to_text

from mailfiler.core.addresses import looks_like_address
from mailfiler.core.charsets import decode_bytes
from mailfiler.core.filenames import clean_filename, default_filename
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.errors import InvalidMessage

# MAPI property tags (MS-OXPROPS) read from the message level.
_SUBJECT = (0x0037, 0x0E1D, 0x0070)
_SENDER_ADDRESS = (0x5D01, 0x0C1F, 0x5D02, 0x0065)
_SENDER_NAME = (0x0C1A, 0x0042)
_MESSAGE_ID = 0x1035
_SUBMIT_TIME = 0x0039
_ATTACH_CONTENT_ID = 0x3712
_ATTACH_MIME_TAG = 0x370E

TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"


@dataclass(frozen=True)
class TnefContent:
    subject: str
    sender: tuple[Address, ...]
    date: datetime | None
    message_id: str | None
    body: tuple[BodyPart, ...]
    attachments: tuple[Attachment, ...]


def expand(data: bytes) -> TnefContent:
    """Everything a winmail.dat carries; ``InvalidMessage`` when it is not one."""
    if not data.startswith(TNEF_SIGNATURE):
        raise InvalidMessage("this is not TNEF data (winmail.dat): its signature is missing")
    _check_lengths(data)
    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = tnefparse.TNEF(data, do_checksum=False)
            return _content(parsed)
        except MemoryError:
            raise
        except InvalidMessage:
            raise
        except Exception as error:
            raise InvalidMessage(f"the TNEF data is damaged ({type(error).__name__})") from error


# An attribute (MS-OXTNEF 2.1.3.1): its level (1 byte), ID (4) and length (4), then that
# many bytes of data and a 2-byte checksum; the stream starts with the signature and a key.
_ATTRIBUTE_HEAD = 9
_STREAM_HEAD = 6


def _check_lengths(data: bytes) -> None:
    """Every attribute's length within the file, walked once: tnefparse trusts them, and a
    21-byte file whose one attribute claimed more than was left kept a reader busy until
    its CPU limit (found by the fuzzer)."""
    position = _STREAM_HEAD
    while position < len(data):
        if position + _ATTRIBUTE_HEAD > len(data):
            raise InvalidMessage("the TNEF data is cut short inside an attribute's heading")
        length = int.from_bytes(data[position + 5 : position + 9], "little")
        end = position + _ATTRIBUTE_HEAD + length + 2
        if end > len(data):
            left = len(data) - position - _ATTRIBUTE_HEAD
            raise InvalidMessage(
                f"the TNEF data is cut short: an attribute says it holds {length} bytes, "
                f"and {max(left, 0)} are left"
            )
        position = end


def as_message(data: bytes) -> Message:
    """A winmail.dat given on its own: a message with a body and files, and no address lines."""
    content = expand(data)
    return Message(
        subject=content.subject,
        sender=content.sender,
        date=content.date,
        message_id=content.message_id,
        body=content.body,
        attachments=content.attachments,
        format="tnef",
        notes=("a bare winmail.dat carries no To or Cc line",),
    )


def _props(parsed: Any) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for prop in list(parsed.mapiprops) + list(parsed.msgprops):
        found.setdefault(prop.name, prop.data)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = decode_bytes(value, None)[0]
    return str(value).replace("\x00", "").strip() if value is not None else ""


def _content(parsed: Any) -> TnefContent:
    props = _props(parsed)
    subject = next((_text(props[t]) for t in (*_SUBJECT, 0x8004) if t in props), "")
    address = next(
        (a for t in _SENDER_ADDRESS if t in props and looks_like_address(a := _text(props[t]))),
        "",
    )
    name = next((_text(props[t]) for t in _SENDER_NAME if t in props), "")
    sender = (Address(address=address, name=name),) if address else ()
    when = props.get(_SUBMIT_TIME) or props.get(0x8005)
    date = when.replace(tzinfo=when.tzinfo or UTC) if isinstance(when, datetime) else None
    message_id = _text(props.get(_MESSAGE_ID)) or None
    return TnefContent(
        subject=subject,
        sender=sender,
        date=date,
        message_id=message_id,
        body=_body(parsed),
        attachments=tuple(_attachments(parsed)),
    )


def _body(parsed: Any) -> tuple[BodyPart, ...]:
    html = parsed.htmlbody
    text = parsed.body
    if html:
        return (BodyPart(html=_text(html), text=_text(text) or None),)
    if text:
        return (BodyPart(text=_text(text)),)
    rtf = parsed.rtfbody
    if rtf:
        text = str(rtf_to_text(_text(rtf)))  # type: ignore[no-untyped-call]
        return (BodyPart(text=text.strip()),)
    return ()


def _attachments(parsed: Any) -> list[Attachment]:
    files = []
    for number, item in enumerate(parsed.attachments, start=1):
        data = item.data
        if not isinstance(data, bytes):
            continue  # an embedded Outlook object, not a file
        attrs = {a.name: a.data for a in getattr(item, "mapi_attrs", [])}
        try:
            name = item.long_filename() or item.name
        except Exception:  # noqa: BLE001 - a damaged name must not lose the file
            name = ""
        name = clean_filename(_text(name))
        content_type = (
            _text(attrs.get(_ATTACH_MIME_TAG))
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )
        name = name or default_filename(content_type, number)
        files.append(
            Attachment(
                filename=name,
                content_type=content_type,
                data=data,
                content_id=_text(attrs.get(_ATTACH_CONTENT_ID)).strip("<>") or None,
            )
        )
    return files
