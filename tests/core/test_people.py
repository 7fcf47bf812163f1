from __future__ import annotations

from mailfiler.core.message import Address, Message
from mailfiler.core.people import participants


def test_lines_in_order_each_address_once_per_line_and_you_marked() -> None:
    message = Message(
        sender=(Address("Ann@Example.org"),),
        to=(Address("me@acme.example"), Address("bob@example.org"), Address("BOB@example.org")),
        cc=(Address("ann@example.org"),),
    )
    found = participants(message, ["ME@acme.example"])
    assert [(p.line, p.address, p.is_self) for p in found] == [
        ("from", "Ann@Example.org", False),
        ("to", "me@acme.example", True),
        ("to", "bob@example.org", False),
        ("cc", "ann@example.org", False),
    ]


def test_a_received_message_has_no_bcc_line() -> None:
    found = participants(Message(sender=(Address("a@example.org"),)))
    assert [p.line for p in found] == ["from"]
