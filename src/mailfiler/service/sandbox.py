"""Running an untrusted parser in a child process under memory and time limits.

A hostile Outlook or TNEF file can make its parser allocate without end
(``corpus/apache-poi/hmef/oom.tnef``) or spin. In a forked child with an
address-space and CPU limit, that costs one child, which we kill and report as
``InvalidMessage`` with the reason; the server or CLI carries on.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import Final, TypeVar

from mailfiler.errors import InvalidMessage

T = TypeVar("T")

# Room for a reader on top of what its process already maps: the .msg readers
# need a few times the file's size. 64 MB beyond that is plenty for any real
# message, and a hostile one (oom.tnef) reaches it within a second.
MEMORY_BASE: Final = 64 * 1024 * 1024
MEMORY_PER_INPUT_BYTE: Final = 12
# CPU seconds one read may take: a 135 MB message reads in half a second, the
# slowest real .msg in the corpus (1 300 recipients) in under three.
SECONDS: Final = 30


def mapped_bytes() -> int:
    """The address space this process maps (what an address-space limit counts)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def within_hard_limit(kind: int, wanted: int) -> int:
    """``wanted``, or the process's hard limit of ``kind`` when that is lower.

    A hard limit set from outside (``ulimit -v``, a service manager's
    ``LimitAS=``) cannot be raised: a read then runs under it instead.
    """
    _, hard = resource.getrlimit(kind)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def needs_more_memory(what: str, memory: int) -> str:
    """Why a read was stopped at its memory limit, for the user."""
    return f"this {what} needs more than {memory // 2**20} MB to read: it is damaged or hostile"


def run_limited(work: Callable[[bytes], T], data: bytes, /) -> T:
    """``work(data)`` in a forked child; ``InvalidMessage`` if it fails, overruns or dies."""
    wanted = mapped_bytes() + MEMORY_BASE + MEMORY_PER_INPUT_BYTE * len(data)
    memory = within_hard_limit(resource.RLIMIT_AS, wanted)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; its result is checked by the parent
        os.close(read_end)
        _child(work, data, memory, write_end)
    os.close(write_end)
    try:
        payload = _read_all(read_end, pid)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if not payload:
        how = ""
        if os.WIFSIGNALED(status):
            how = f" ({signal.Signals(os.WTERMSIG(status)).name})"
        raise InvalidMessage(
            f"reading this file ran past its memory or time limit{how}: it is damaged or hostile"
        )
    try:
        kind, value = pickle.loads(payload)  # noqa: S301 - our own child, over our own pipe
    except Exception as error:
        raise InvalidMessage("reading this file was stopped by the safety limits") from error
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    raise InvalidMessage(value)


def _child(work: Callable[[bytes], object], data: bytes, memory: int, out: int) -> None:
    # Built before the parser runs: once it has exhausted the memory limit,
    # even formatting a sentence can fail.
    out_of_memory = pickle.dumps(("invalid", needs_more_memory("file", memory)))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        # The second past the soft limit lets SIGXCPU come before SIGKILL.
        resource.setrlimit(
            resource.RLIMIT_CPU,
            (
                within_hard_limit(resource.RLIMIT_CPU, SECONDS),
                within_hard_limit(resource.RLIMIT_CPU, SECONDS + 1),
            ),
        )
        try:
            payload = pickle.dumps(("ok", work(data)), protocol=pickle.HIGHEST_PROTOCOL)
        except InvalidMessage as error:
            payload = pickle.dumps(("invalid", str(error)))
        except MemoryError:
            payload = out_of_memory
        except RecursionError:
            payload = pickle.dumps(("invalid", "this file nests too deeply to read"))
        except Exception as error:  # noqa: BLE001 - any parser failure is the file's fault here
            payload = pickle.dumps(("invalid", f"this file is damaged ({type(error).__name__})"))
        view = memoryview(payload)
        while view:
            written = os.write(out, view)
            view = view[written:]
    finally:
        os._exit(0)


def _read_all(fd: int, pid: int) -> bytes:
    """Everything the child writes; b"" once it runs past the time limit (it is then killed)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + SECONDS * 2
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            return b""
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
