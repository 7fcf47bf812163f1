"""A message given by its fields is read as a message directly, bounded as a message file's
reading is: a sender of many addresses or files gets the first ones read, and a note."""

from __future__ import annotations

import base64

import pytest

from mailfiler.core.address_list import ENTRIES_MAX
from mailfiler.core.fields import message_from_fields
from mailfiler.core.limits import PARTS_MAX
from mailfiler.errors import InvalidMessage


def test_a_hostile_number_of_addresses_and_files_is_read_in_part_with_a_note() -> None:
    many = [{"address": f"m{n}@x.example"} for n in range(ENTRIES_MAX + 5)]
    one = base64.b64encode(b"x").decode()
    files = [{"name": f"f{n}.txt", "content_base64": one} for n in range(PARTS_MAX + 1)]
    message = message_from_fields({"to": many, "attachments": files, "subject": "many"})
    assert len(message.to) == ENTRIES_MAX and len(message.attachments) == PARTS_MAX
    assert any("To line has" in n for n in message.notes)
    assert any("attachments" in n for n in message.notes)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"cc": [{"address": "a@x.example\r\nBcc: eve@x.example"}]}, "the Cc line holds"),
        ({"attachments": [{"name": "a.pdf", "content_base64": "%%%"}]}, "not valid base64"),
    ],
)
def test_what_cannot_be_a_message_is_refused_naming_it(
    fields: dict[str, object], said: str
) -> None:
    with pytest.raises(InvalidMessage, match=said):
        message_from_fields(fields)
