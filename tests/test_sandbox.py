"""Untrusted parsers run in a child under limits; whatever they do, the caller gets a reason."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mailfiler.errors import InvalidMessage
from mailfiler.service import sandbox
from tests.conftest import ROOT, corpus_path, fixture_bytes


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


# Run in a process of its own: reads each file named after the first argument,
# in this process ("direct": Outlook and TNEF files in run_limited's child) or
# through a reader pool ("pool"), and prints a JSON line for each; or ("pids")
# prints which pool workers answer two runs in a row. The first line says what
# the process maps once it can read and ("direct") the limits a run_limited
# child of it gets.
READ_EACH = """
import json, resource, sys
from mailfiler.core.read import read_message
from mailfiler.errors import InvalidMessage
from mailfiler.service.reader_pool import ReaderPool
from mailfiler.service.sandbox import mapped_bytes, run_limited

def limits(data):
    return [resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)]

how, paths = sys.argv[1], sys.argv[2:]
mapped = mapped_bytes()
child_limits = run_limited(limits, b"") if how == "direct" else None
print(json.dumps({"mapped": mapped, "child_limits": child_limits}), flush=True)
pool = ReaderPool(size=1)
if how == "pids":
    print(json.dumps([pool.run("tests.test_reader_pool:pid", b"") for _ in range(2)]))
for path in paths:
    with open(path, "rb") as file:
        data = file.read()
    try:
        message = pool.read(data) if how == "pool" else read_message(data, run_limited)
        print(json.dumps({"format": message.format, "subject": message.subject}), flush=True)
    except InvalidMessage as refusal:
        print(json.dumps({"refused": str(refusal)}), flush=True)
pool.close()
"""


def read_under_hard_limits(how: str, limits: dict[int, int], *paths: Path) -> list[Any]:
    """READ_EACH in a new process whose hard limits are set before it starts, as
    ``ulimit`` or a service manager sets them; what it printed, line by line."""

    def set_limits() -> None:
        for kind, hard in limits.items():
            resource.setrlimit(kind, (hard, hard))

    done = subprocess.run(
        [sys.executable, "-c", READ_EACH, how, *map(str, paths)],
        cwd=ROOT,
        preexec_fn=set_limits,  # only setrlimit runs between fork and exec
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def outside_memory_limit() -> int:
    """An address-space limit below what a reader asks for (what it maps, plus
    MEMORY_BASE and more), with room left to read a small message."""
    [footprint] = read_under_hard_limits("direct", {})
    return int(footprint["mapped"]) + sandbox.MEMORY_BASE // 2


def test_under_lower_outside_limits_a_file_is_read_within_them(tmp_path: Path) -> None:
    memory, seconds = outside_memory_limit(), sandbox.SECONDS // 3
    outlook = corpus_path() / "apache-poi" / "hsmf" / "quick.msg"
    hostile = corpus_path() / "apache-poi" / "hmef" / "oom.tnef"
    plain = tmp_path / "plain.eml"
    plain.write_bytes(fixture_bytes("text-only.eml"))
    limits = {resource.RLIMIT_AS: memory, resource.RLIMIT_CPU: seconds}
    first, *reads = read_under_hard_limits("direct", limits, outlook, plain, hostile)
    # The child takes the outside limits where they are lower than its own.
    assert first["child_limits"] == [[memory, memory], [seconds, seconds]]
    assert reads[0]["format"] == "msg" and reads[0]["subject"]
    assert reads[1]["format"] == "eml" and reads[1]["subject"].startswith("Plain text")
    # Stopped by the outside limit, the reason is the same clear sentence.
    assert reads[2] == {
        "refused": f"this file needs more than {memory // 2**20} MB to read: "
        "it is damaged or hostile"
    }
