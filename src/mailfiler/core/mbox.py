"""Splitting an mbox file into its messages.

mbox has no standard (RFC 4155 describes the common ground): each message
starts with a "From " line at the start of the file or after a blank line,
and body lines that start with "From " were written as ">From " (mboxrd adds
one ">" per level). We split on the first rule and undo one level of quoting.
"""

from __future__ import annotations

import re

_FROM_LINE = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def is_mbox(data: bytes) -> bool:
    return data.startswith(b"From ")


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox file, each with its "From " line and quoting undone."""
    starts = [
        found.start()
        for found in _FROM_LINE.finditer(data)
        if found.start() == 0 or data.endswith(b"\n\n", 0, found.start())
        or data.endswith(b"\n\r\n", 0, found.start())
    ]  # fmt: skip
    entries = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        entry = data[start:end]
        # The blank line before the next "From " belongs to the mbox, not the message.
        if index + 1 < len(starts):
            entry = entry[:-2] + b"\n" if entry.endswith(b"\r\n\r\n") else entry[:-1]
        entries.append(_QUOTED_FROM.sub(rb"\1", entry))
    return entries
