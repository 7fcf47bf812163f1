"""Outlook ``.msg`` files (MS-OXMSG, an OLE compound file) read with extract-msg.

extract-msg is GPL-3.0, so it is the optional ``outlook`` extra: without it
a .msg file is refused with a sentence saying what to install. Its parser is
not hardened against hostile files (the corpus holds fuzzer cases): call
``read_msg`` only through a ``Contain``.
"""

from __future__ import annotations

import importlib
import logging
import mimetypes
import warnings
from datetime import UTC, datetime
from email.utils import getaddresses
from types import ModuleType
from typing import Any

from mailfiler.core.addresses import looks_like_address
from mailfiler.core.charsets import decode_bytes
from mailfiler.core.filenames import clean_filename, default_filename
from mailfiler.core.headers import one_line
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.errors import InvalidMessage


# Imported here, not on first use: the parser runs in a forked child, which
# then starts with it loaded instead of importing it for every file.
def _load_extract_msg() -> ModuleType | None:
    try:
        return importlib.import_module("extract_msg")
    except ImportError:  # pragma: no cover - without the optional extra
        return None


extract_msg = _load_extract_msg()

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Outlook item classes that are not mail, named as Outlook's users know them.
_NOT_MAIL = {
    "ipm.contact": "a contact card",
    "ipm.distlist": "a contact group",
    "ipm.stickynote": "a note",
    "ipm.task": "a task",
    "ipm.activity": "a journal entry",
}

# Sender address properties (MS-OXPROPS), best first. PidTagSenderEmailAddress
# may hold an Exchange X.500 name ("/O=ACME/OU=…"), which is not an address.
_SENDER_ADDRESS = ("5D01", "0C1F", "5D02", "0065")
_SENDER_NAME = ("0C1A", "0042")
_RECIPIENT_TYPES = {1: "to", 2: "cc", 3: "bcc"}


def read_msg(data: bytes) -> Message:
    """Read an Outlook item; ``InvalidMessage`` when it is damaged or not mail."""
    if extract_msg is None:  # pragma: no cover - the test install has the extra
        raise InvalidMessage(
            "reading Outlook .msg files needs the optional 'outlook' extra: "
            "pip install 'mailfiler[outlook]'"
        )
    logging.getLogger("extract_msg").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            item = extract_msg.openMsg(data, delayAttachments=False)
        except MemoryError:
            raise
        except Exception as error:
            raise InvalidMessage(
                f"this Outlook .msg file is damaged and cannot be opened ({type(error).__name__})"
            ) from error
        try:
            return _message(item)
        except (InvalidMessage, MemoryError):
            raise
        except Exception as error:
            raise InvalidMessage(
                f"this Outlook .msg file is damaged and cannot be read ({type(error).__name__})"
            ) from error
        finally:
            item.close()


def _message(item: Any) -> Message:
    item_class = str(getattr(item, "classType", "") or "IPM.Note")
    for prefix, what in _NOT_MAIL.items():
        if item_class.lower().startswith(prefix):
            raise InvalidMessage(
                f"this Outlook item is {what} ({item_class}), not an email message"
            )
    notes: list[str] = []
    to: list[Address] = []
    cc: list[Address] = []
    bcc: list[Address] = []
    lines = {"to": to, "cc": cc, "bcc": bcc}
    for recipient in item.recipients:
        address = _smtp(getattr(recipient, "smtpAddress", None)) or _smtp(recipient.email)
        if not address:
            notes.append(f"recipient {_clean(recipient.name)!r} has no internet address")
            continue
        line = _RECIPIENT_TYPES.get(int(recipient.type or 1), "to")
        lines[line].append(Address(address=address, name=_clean(recipient.name).strip("'")))
    date = item.date if isinstance(item.date, datetime) else None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    message_id = _clean(item.messageId) or None
    return Message(
        subject=_clean(item.subject),
        sender=_sender(item, notes),
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        date=date,
        message_id=message_id,
        body=_body(item),
        attachments=tuple(_attachments(item, notes)),
        format="msg",
        notes=tuple(notes),
    )


def _clean(value: Any) -> str:
    return one_line(str(value or "").replace("\x00", ""))


def _smtp(value: Any) -> str:
    text = _clean(value)
    return text if looks_like_address(text) and not text.startswith("/") else ""


def _sender(item: Any, notes: list[str]) -> tuple[Address, ...]:
    name, address = "", ""
    parsed = getaddresses([_clean(item.sender)])
    if parsed:
        name, address = parsed[0]
        address = _smtp(address)
    if not address:
        for prop in _SENDER_ADDRESS:
            address = _smtp(item.getStringStream("__substg1.0_" + prop))
            if address:
                break
    if not name:
        name = next((_clean(item.getStringStream("__substg1.0_" + p)) for p in _SENDER_NAME), "")
    if not address:
        if name or _clean(item.sender):
            notes.append(f"the sender {name or _clean(item.sender)!r} has no internet address")
        return ()
    return (Address(address=address, name=name),)


def _body(item: Any) -> tuple[BodyPart, ...]:
    text = _clean_body(item.body)
    try:
        html_bytes = item.htmlBody
    except Exception:  # noqa: BLE001 - an undecodable RTF body still leaves the text
        html_bytes = None
    html = decode_bytes(html_bytes, None)[0] if html_bytes else None
    if html is None and not text:
        return ()
    return (BodyPart(html=html, text=text or None),)


def _clean_body(value: Any) -> str:
    if isinstance(value, bytes):
        value = decode_bytes(value, None)[0]
    return str(value or "").replace("\x00", "").replace("\r\n", "\n").strip("\n")


def _attachments(item: Any, notes: list[str]) -> list[Attachment]:
    files = []
    for number, attachment in enumerate(item.attachments, start=1):
        data = attachment.data
        name = _clean(
            getattr(attachment, "longFilename", None) or getattr(attachment, "name", None)
        )
        content_type = _clean(getattr(attachment, "mimetype", None))
        if hasattr(data, "exportBytes"):
            # An attached Outlook item: kept as the .msg file Outlook would save.
            data = data.exportBytes()
            content_type = "application/vnd.ms-outlook"
            if not name.lower().endswith(".msg"):
                name = (name or "attached item") + ".msg"
        if not isinstance(data, bytes):
            notes.append(f"attachment {name or number} has no file content and was left out")
            continue
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        content_id = _clean(getattr(attachment, "cid", None)).strip("<>") or None
        files.append(
            Attachment(
                filename=clean_filename(name) or default_filename(content_type, number),
                content_type=content_type,
                data=data,
                content_id=content_id,
                inline=bool(getattr(attachment, "hidden", False)) and content_id is not None,
            )
        )
    return files
