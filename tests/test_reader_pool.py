"""Every message is read in a worker process under one set of limits, whatever its format."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.hostile_mail import many_parts
from mailfiler.errors import InvalidMessage
from mailfiler.service import reader_pool
from mailfiler.service.reader_pool import ReaderPool
from mailfiler.service.sandbox import SECONDS
from tests.conftest import corpus_path, fixture_bytes
from tests.test_sandbox import outside_memory_limit, read_under_hard_limits

HERE = "tests.test_reader_pool"
PARSERS = "tests.test_sandbox"  # the same misbehaving parsers the sandbox is tested with


def deep(data: bytes) -> int:
    def down(n: int) -> int:
        return down(n + 1)

    return down(0)


@pytest.fixture
def pool() -> Iterator[ReaderPool]:
    made = ReaderPool(size=2)
    yield made
    made.close()


def test_messages_of_every_format_are_read_in_a_worker(pool: ReaderPool) -> None:
    eml = fixture_bytes("encoded-words.eml")
    message = pool.read(eml)
    assert message.subject == "Réunion du comité à Zürich"
    assert message.original == eml  # kept by the caller, not sent back and forth
    outlook = pool.read((corpus_path() / "apache-poi" / "hsmf" / "quick.msg").read_bytes())
    assert outlook.format == "msg" and outlook.subject


def test_a_worker_past_its_memory_limit_costs_one_message(pool: ReaderPool) -> None:
    with pytest.raises(InvalidMessage, match=r"needs more than \d+ MB|limit"):
        pool.run(f"{PARSERS}:_hog", b"x")
    assert pool.run(f"{PARSERS}:_echo", b"abc") == b"cba"  # a new worker took its place


def test_a_worker_past_its_cpu_limit_is_stopped(pool: ReaderPool) -> None:
    with pytest.raises(InvalidMessage, match="ran past its memory or time limit"):
        pool.run(f"{PARSERS}:_spin", b"x", seconds=1)
    assert pool.run(f"{PARSERS}:_echo", b"abc") == b"cba"


def test_a_reader_bug_is_a_reason_not_a_traceback(pool: ReaderPool) -> None:
    with pytest.raises(InvalidMessage, match=r"could not be read \(KeyError\)"):
        pool.run(f"{PARSERS}:_broken", b"x")
    with pytest.raises(InvalidMessage, match="nests too deeply"):
        pool.run(f"{HERE}:deep", b"x")
    assert pool.run(f"{PARSERS}:_echo", b"abc") == b"cba"


def test_a_hundred_thousand_parts_read_as_the_first_thousand(pool: ReaderPool) -> None:
    message = pool.read(many_parts(100_000))
    assert len(message.attachments) < 1_000
    assert "only the first were read" in " ".join(message.notes)


def test_the_shared_pool_is_one_per_process() -> None:
    assert reader_pool.shared() is reader_pool.shared()


def test_a_worker_that_grew_large_retires_after_answering() -> None:
    pool = ReaderPool(size=1)
    try:
        first = pool.run(f"{HERE}:pid", b"")
        assert pool.run(f"{HERE}:pid", b"") == first  # a worker serves read after read
        big = b"x" * (200 * 1024 * 1024)
        assert pool.run(f"{HERE}:hold", big) == len(big)
        # ... until it holds too much: then a fresh process answers the next read.
        assert pool.run(f"{HERE}:pid", b"") != first
    finally:
        pool.close()


@pytest.mark.parametrize("kind", [resource.RLIMIT_AS, resource.RLIMIT_CPU], ids=["as", "cpu"])
def test_under_a_lower_outside_limit_the_pool_reads_within_it(tmp_path: Path, kind: int) -> None:
    hard = outside_memory_limit() if kind == resource.RLIMIT_AS else SECONDS // 3
    plain = tmp_path / "plain.eml"
    plain.write_bytes(fixture_bytes("text-only.eml"))
    outlook = corpus_path() / "apache-poi" / "hsmf" / "quick.msg"
    _, *reads = read_under_hard_limits("pool", {kind: hard}, plain, outlook, plain)
    assert [read.get("format") for read in reads] == ["eml", "msg", "eml"], reads
    assert reads[0]["subject"].startswith("Plain text") and reads[1]["subject"]


def test_under_a_lower_outside_cpu_limit_each_read_has_a_fresh_worker() -> None:
    # The kernel counts a worker's CPU time from its start: one that went on
    # would be ended in the middle of a later read (without the limit, one
    # worker answers read after read: see the test below).
    _, pids = read_under_hard_limits("pids", {resource.RLIMIT_CPU: SECONDS // 3})
    first, second = pids
    assert first != second


def test_stopped_by_a_lower_outside_memory_limit_the_reason_is_the_clear_one() -> None:
    memory = outside_memory_limit()
    hostile = corpus_path() / "apache-poi" / "hmef" / "oom.tnef"
    _, read = read_under_hard_limits("pool", {resource.RLIMIT_AS: memory}, hostile)
    assert read == {
        "refused": f"this file needs more than {memory // 2**20} MB to read: "
        "it is damaged or hostile"
    }


def size(data: bytes) -> int:
    return len(data)


_HELD: list[list[bytes]] = []


def hold(data: bytes) -> int:
    """A read that leaves its worker holding what it took (as a parse can keep its heap)."""
    _HELD.append([data[i : i + 4096] for i in range(0, len(data), 4096)])
    return len(data)


def pid(data: bytes) -> int:
    return os.getpid()
