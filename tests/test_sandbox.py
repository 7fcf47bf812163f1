"""Untrusted parsers run in a child under limits; whatever they do, the caller gets a reason."""

from __future__ import annotations

import time

import pytest

from mailfiler import sandbox
from mailfiler.errors import InvalidMessage


def _echo(data: bytes) -> bytes:
    return data[::-1]


def _hog(data: bytes) -> bytes:
    hoard = []
    while True:
        hoard.append(bytearray(50 * 1024 * 1024))


def _spin(data: bytes) -> bytes:
    while True:
        pass


def _broken(data: bytes) -> bytes:
    raise KeyError("offset")


def _refuses(data: bytes) -> bytes:
    raise InvalidMessage("this is not an Outlook file")


def test_a_result_comes_back_from_the_child() -> None:
    assert sandbox.run_limited(_echo, b"abc" * 1000) == b"cba" * 1000


def test_memory_exhaustion_is_a_clear_reason() -> None:
    with pytest.raises(InvalidMessage, match=r"needs more than .* MB"):
        sandbox.run_limited(_hog, b"x")


def test_running_too_long_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(InvalidMessage, match="limit"):
        sandbox.run_limited(_spin, b"x")
    assert time.monotonic() - started < 10


def test_parser_failures_and_refusals_keep_their_meaning() -> None:
    with pytest.raises(InvalidMessage, match=r"damaged \(KeyError\)"):
        sandbox.run_limited(_broken, b"x")
    with pytest.raises(InvalidMessage, match="not an Outlook file"):
        sandbox.run_limited(_refuses, b"x")
