"""Who is on a message: the lines the product shows, in its order.

The product page: the list holds the sender ("From"), yourself only "if you
are listed on the To/Cc line explicitly", and the matched contacts on To and
Cc. Bcc exists only on a message being written or a sent copy ("BCC Field
Data"); a received message carries none, so none is shown.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from mailfiler.core.addresses import address_key
from mailfiler.core.message import Address, Message

Line = Literal["from", "to", "cc", "bcc"]
LINES: tuple[Line, ...] = ("from", "to", "cc", "bcc")


@dataclass(frozen=True)
class Participant:
    line: Line
    address: str
    name: str
    is_self: bool = False

    @property
    def key(self) -> str:
        return address_key(self.address)


def participants(message: Message, me: Collection[str] = ()) -> tuple[Participant, ...]:
    """Everyone on From, To, Cc and (when the message carries it) Bcc, each once per line."""
    mine = {address_key(a) for a in me}
    lines: dict[Line, tuple[Address, ...]] = {
        "from": message.sender,
        "to": message.to,
        "cc": message.cc,
        "bcc": message.bcc,
    }
    found: list[Participant] = []
    for line in LINES:
        seen: set[str] = set()
        for address in lines[line]:
            if address.key in seen:
                continue
            seen.add(address.key)
            found.append(Participant(line, address.address, address.name, address.key in mine))
    return tuple(found)
