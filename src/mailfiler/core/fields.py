"""A message given by its fields (Office.js in compose mode, or in read mode where the host
cannot hand over the whole file), as a ``Message`` directly: no .eml is written for it until
one is saved (``core.compose.eml_bytes``).

The fields are the JSON the pane sent, checked by the API's schema when it came (and kept
as it was checked, so that a message read again is the same message): ``from``, ``to``,
``cc``, ``bcc`` as ``{address, name}``; ``subject``, ``message_id``, ``date`` (ISO 8601),
``html_body``, ``text_body``; ``attachments`` as ``{name, content_type, content_base64,
content_id, inline}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mailfiler.core.address_list import ENTRIES_MAX
from mailfiler.core.limits import PARTS_MAX
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.errors import InvalidMessage

# What no single address may hold: a line break or a control, or what starts another.
BREAKS_A_LINE = re.compile(r"[\x00-\x1f\x7f<>,;]")


def message_from_fields(fields: Mapping[str, Any]) -> Message:
    """The message the fields describe; ``InvalidMessage`` naming what is wrong."""
    notes: list[str] = []
    given = list(fields.get("attachments") or ())
    if len(given) > PARTS_MAX:  # as a message file's parts are: the rest left out, said
        notes.append(f"the message has {len(given)} attachments: the first {PARTS_MAX} are read")
    files = tuple(_attachment(item) for item in given[:PARTS_MAX])
    html, text = fields.get("html_body"), fields.get("text_body")
    body = (BodyPart(html=html, text=text),) if html is not None or text is not None else ()
    message_id = fields.get("message_id")
    if message_id and not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    date = fields.get("date")
    sender = fields.get("from")
    return Message(
        subject=fields.get("subject") or "",
        sender=_line("From", [sender] if sender else [], notes),
        to=_line("To", fields.get("to") or (), notes),
        cc=_line("Cc", fields.get("cc") or (), notes),
        bcc=_line("Bcc", fields.get("bcc") or (), notes),
        date=datetime.fromisoformat(date) if isinstance(date, str) else date,
        message_id=message_id,
        body=body,
        attachments=files,
        format="composed",
        notes=tuple(notes),
    )


def _line(role: str, items: Sequence[Mapping[str, Any]], notes: list[str]) -> tuple[Address, ...]:
    """A line's addresses, each one address; past as many as a message file's line is read
    for, the rest left out and said."""
    if len(items) > ENTRIES_MAX:
        notes.append(
            f"the {role} line has {len(items)} addresses: the first {ENTRIES_MAX} are read"
        )
        items = items[:ENTRIES_MAX]
    for item in items:
        if BREAKS_A_LINE.search(item["address"]):
            raise InvalidMessage(
                f"the {role} line holds {item['address']!r}, which is not one email address"
            )
    return tuple(Address(a["address"].strip(), (a.get("name") or "").strip()) for a in items)


def _attachment(item: Mapping[str, Any]) -> Attachment:
    try:
        data = base64.b64decode(item["content_base64"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidMessage(f"attachment {item['name']!r} is not valid base64") from error
    return Attachment(
        item["name"],
        item.get("content_type") or "application/octet-stream",
        data,
        item.get("content_id"),
        bool(item.get("inline")),
    )
