"""Messages written to cost a reader as much as possible, by family and size.

Used by bench/hostile_reading.py (one header of each kind, 1 KB to 1 MB, and
the worst input of each hostile family), bench/hostile_server.py and the
tests; a header builder takes the size in bytes of the part that grows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

BASE = b"From: Ann <ann@members.example>\r\nTo: bob@members.example\r\nSubject: hostile\r\n"


def _repeat(unit: bytes, size: int) -> bytes:
    return unit * max(size // len(unit), 1)


def _with_header(name: bytes, value: bytes) -> bytes:
    return BASE + name + b": " + value + b"\r\n\r\nHello.\r\n"


def _part(part_headers: bytes, payload: bytes = b"aGVsbG8=") -> bytes:
    return (
        BASE + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n" + part_headers + b"\r\n\r\n" + payload + b"\r\n--b--\r\n"
    )


# One header of each kind, grown to ``size`` bytes.
HEADERS: dict[str, Callable[[int], bytes]] = {
    "To: quoted strings": lambda n: _with_header(b"Cc", _repeat(b'"q, x" ', n)),
    "To: addresses": lambda n: _with_header(b"Cc", _repeat(b"Member <m@members.example>, ", n)),
    "To: commas": lambda n: _with_header(b"Cc", _repeat(b",", n)),
    "To: bare words": lambda n: _with_header(b"Cc", _repeat(b"a ", n)),
    "From: encoded words": lambda n: (
        b"From: " + _repeat(b"=?utf-8?q?abc_def?= ", n) + b"<ann@members.example>\r\n"
        b"To: bob@members.example\r\n\r\nHello.\r\n"
    ),
    "Cc: nested comments": lambda n: _with_header(
        b"Cc", b"a@b.example " + b"(" * (n // 2) + b")" * (n // 2)
    ),
    "Subject: encoded words": lambda n: _with_header(
        b"X-Subject", _repeat(b"=?utf-8?b?w6k=?= ", n)
    ),
    "Subject: text": lambda n: _with_header(b"X-Subject", _repeat(b"word ", n)),
    "Content-Type: parameters": lambda n: _part(
        b"Content-Type: image/png" + _repeat(b'; p="a;b"', n) + b"\r\nContent-ID: <c>"
    ),
    "Content-Disposition: RFC 2231 sections": lambda n: _part(
        b"Content-Type: image/png\r\nContent-Disposition: attachment"
        + b"".join(b"; filename*%d*=%%41" % i for i in range(max(n // 20, 1))),
    ),
    "References: message IDs": lambda n: _with_header(b"References", _repeat(b"<a@b> ", n)),
    "many short headers": lambda n: BASE + _repeat(b"X-A: b\r\n", n) + b"\r\nHello.\r\n",
}


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return (
        BASE + b"MIME-Version: 1.0\r\n" + opening + b"Content-Type: text/plain\r\n\r\nx" + closing
    )


def many_parts(count: int) -> bytes:
    parts = b"".join(
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" for _ in range(count)
    )
    return (
        BASE
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + parts
        + b"--b--\r\n"
    )


def base64_garbage(size: int) -> bytes:
    return _part(
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64",
        _repeat(b"!@#$ QUJD\r\n=", size),
    )


# The worst case of each hostile family the reader must survive (issue 9).
FAMILIES: dict[str, Callable[[], bytes]] = {
    "long address list (1 MB of quoted strings)": lambda: HEADERS["To: quoted strings"](2**20),
    "encoded words (1 MB From)": lambda: HEADERS["From: encoded words"](2**20),
    "nested comments (1 MB)": lambda: HEADERS["Cc: nested comments"](2**20),
    "multiparts nested 1 000 deep": lambda: nested_multiparts(1_000),
    "100 000 parts": lambda: many_parts(100_000),
    "base64 garbage (20 MB)": lambda: base64_garbage(20 * 2**20),
    "TNEF that allocates without end (oom.tnef)": lambda: (
        CORPUS / "apache-poi" / "hmef" / "oom.tnef"
    ).read_bytes(),
}
