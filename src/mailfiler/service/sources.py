"""Finding the messages named on a command line: files, mbox files, maildirs, folders."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailfiler.core.mbox import is_mbox, split_mbox
from mailfiler.core.msg import OLE_SIGNATURE
from mailfiler.core.tnef import TNEF_SIGNATURE

# The first line of a message is a header field ("Name:"), or an mbox "From " line.
_FIRST_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


@dataclass(frozen=True)
class Source:
    label: str
    data: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class Found:
    files: list[Path]
    skipped: list[Path]  # files in folders that are not email (a README, a licence)
    missing: list[str]


def looks_like_mail(head: bytes) -> bool:
    if head.startswith((OLE_SIGNATURE, TNEF_SIGNATURE, b"From ")):
        return True
    return bool(_FIRST_LINE.match(head.lstrip(b"\r\n")))


def find(paths: Sequence[str]) -> Found:
    """Every message file under the paths. Files named directly are always tried."""
    files: list[Path] = []
    skipped: list[Path] = []
    missing: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for file in _walk(path):
                with open(file, "rb") as handle:
                    head = handle.read(1024)
                (files if looks_like_mail(head) else skipped).append(file)
        else:
            missing.append(name)
    return Found(files, skipped, missing)


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        # Hidden folders, and maildir's tmp/ (messages still being delivered), are not mail.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "tmp")
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(root) / name


def messages(file: Path) -> Iterator[Source]:
    """The messages in one file: one, or each entry of an mbox file."""
    try:
        data = file.read_bytes()
    except OSError as error:
        yield Source(str(file), error=f"the file cannot be read: {error.strerror}")
        return
    if not is_mbox(data):
        yield Source(str(file), data)
        return
    entries = split_mbox(data)
    if len(entries) == 1:
        yield Source(str(file), entries[0])
        return
    for number, entry in enumerate(entries, start=1):
        yield Source(f"{file}#{number}", entry)
