"""A reader process of ``reader_pool``: reads one message at a time, under the limits it is sent.

Requests arrive on stdin (the frame: the lengths of the target's name and of
the message, the memory limit, the CPU seconds; then the name and the
message's bytes as they are); answers leave on the original stdout as
``(kind, value, retire)``: ``("ok", value)``, ``("invalid", reason)`` or
``("lost", reason)`` when the worker cannot go on; with ``retire`` the worker
exits after answering (after a "lost" read, once it holds too much memory, or
when an outside CPU limit leaves it too little). Anything printed goes
to stderr, so nothing can corrupt an answer.
"""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import IO

from mailfiler.core.message import Message
from mailfiler.core.read import read_message
from mailfiler.errors import InvalidMessage
from mailfiler.service.reader_pool import _ANSWER, _FRAME
from mailfiler.service.sandbox import (
    mapped_bytes,
    needs_more_memory,
    run_limited,
    within_hard_limit,
)

RETIRE_ABOVE = 160 * 1024 * 1024  # resident bytes


def read(data: bytes) -> Message:
    # Outlook files and winmail.dat are read in a further child of their own
    # (run_limited), so a TNEF part that fails costs that part, not the message.
    message = read_message(data, run_limited)
    # The caller has these bytes already: they are not sent back.
    return replace(message, original=None) if message.original is data else message


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_limit(seconds: int) -> tuple[int, int]:
    """The CPU time a read of ``seconds`` wants this process to reach, and what it may:
    less under a hard limit set from outside (the kernel counts from the process's start)."""
    wanted = int(_cpu_seconds()) + seconds
    return wanted, within_hard_limit(resource.RLIMIT_CPU, wanted)


def _limited(
    work: Callable[[bytes], object], data: bytes, memory: int, seconds: int
) -> tuple[str, object]:
    _, memory_hard = resource.getrlimit(resource.RLIMIT_AS)
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    # Past the CPU limit the kernel ends this process (SIGXCPU); the pool sees
    # it go and says the message ran past its limit.
    _, cpu_limit = _cpu_limit(seconds)
    mapped = mapped_bytes()
    memory_limit = within_hard_limit(resource.RLIMIT_AS, mapped + memory)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_hard))
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_hard))
    try:
        return "ok", work(data)
    except InvalidMessage as error:
        return "invalid", str(error)
    except MemoryError:
        # The room the read had: less than asked for under a lower outside limit.
        return "lost", needs_more_memory("message", max(memory_limit - mapped, 0))
    except RecursionError:
        return "lost", "this message nests too deeply to read"
    except Exception as error:  # noqa: BLE001 - a reader bug must cost one message, not the caller
        traceback.print_exc(file=sys.stderr)
        return "invalid", f"this message could not be read ({type(error).__name__})"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (memory_hard, memory_hard))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_hard, cpu_hard))


def _read_exact(stream: IO[bytes], count: int) -> bytes | None:
    data = stream.read(count)
    return data if data is not None and len(data) == count else None


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    targets: dict[str, Callable[[bytes], object]] = {}
    while True:
        frame = _read_exact(requests, _FRAME.size)
        if frame is None:
            return  # the pool closed the pipe (or its process ended): so do we
        name_length, length, memory, seconds = _FRAME.unpack(frame)
        named, data = _read_exact(requests, name_length), _read_exact(requests, length)
        if named is None or data is None:
            return
        target = named.decode()
        if target not in targets:
            module, _, function = target.partition(":")
            targets[target] = getattr(importlib.import_module(module), function)
        kind, value = _limited(targets[target], data, memory, seconds)
        del data
        # Python keeps what a large read took: past this, the worker retires
        # after answering, and the pool starts a fresh one when it needs one.
        # So it does when an outside CPU limit leaves less than a read may
        # take: the kernel would end it in the middle of a later read, and
        # that message would be blamed; a fresh one has all the limit allows.
        cpu_wanted, cpu_allowed = _cpu_limit(seconds)
        retire = kind == "lost" or _resident_bytes() > RETIRE_ABOVE or cpu_allowed < cpu_wanted
        try:
            answer = pickle.dumps((kind, value, retire), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - a value that cannot travel is a reader bug
            reason = f"this message could not be read ({type(error).__name__})"
            answer = pickle.dumps(("invalid", reason, retire))
        try:
            answers.write(_ANSWER.pack(len(answer)))
            answers.write(answer)
            answers.flush()
        except BrokenPipeError:
            return  # the pool's process ended (killed, perhaps): nobody is asking
        if retire:
            return


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
