"""A message's filing key read from its header section alone is the key the whole read gives,
for every file of the shared corpus and of our own fixtures: a bulk rerun that passes a
message over by it never passes over another message."""

from __future__ import annotations

from pathlib import Path

from mailfiler.core.mbox import is_mbox, split_mbox
from mailfiler.core.read import filing_key_of, read_message
from mailfiler.errors import InvalidMessage
from tests.conftest import FIXTURES, corpus_path


def _messages() -> list[tuple[str, bytes]]:
    paths = [*sorted(corpus_path().rglob("*")), *sorted(FIXTURES.rglob("*.eml"))]
    found = []
    for path in (p for p in paths if p.is_file() and p.name != "oom.tnef"):
        data = path.read_bytes()
        for number, entry in enumerate(split_mbox(data) if is_mbox(data) else [data]):
            found.append((f"{path.name}#{number}", entry))
    return found


def test_the_key_from_the_headers_is_the_key_of_the_whole_read() -> None:
    keyed = 0
    for name, data in _messages():
        early = filing_key_of(data)
        if early is None:
            continue
        try:
            message = read_message(data)
        except InvalidMessage:
            continue  # never filed, so never passed over
        assert early == message.key, name
        keyed += 1
    assert keyed > 40  # the messages with a Message-ID in a plain header section


def test_no_key_where_only_a_whole_read_can_tell(tmp_path: Path) -> None:
    assert filing_key_of(b"Subject: no id\r\n\r\nbody") is None
    assert filing_key_of(b"From ann@x Tue Nov 24 09:15:00 2026\nMessage-ID: <a@x>\n\nhi") is None
    long_header = b"X-Long: " + b"a" * 70_000 + b"\r\nMessage-ID: <late@x>\r\n\r\nbody"
    assert filing_key_of(long_header) is None
    assert filing_key_of(b"Message-ID: <one@x.example>\r\n\r\nbody") == "mid:one@x.example"
