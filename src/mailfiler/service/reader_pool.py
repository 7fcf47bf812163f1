"""Every message is read in a worker process, under one memory and time limit, whatever its format.

Reading is the one step whose cost the sender chooses: a header built to be
slow, 100 000 parts, an Outlook file that makes its parser allocate without
end. In the server process such a message would hold the event loop (or a
thread and the GIL) and could take the process down with it. So the server
and the CLI hand each message to a small pool of worker processes
(``python -m mailfiler.service.reader_worker``, started fresh, not forked from a
busy server): each read runs under an address-space limit that grows with
the message (``MEMORY_BASE`` + ``MEMORY_PER_INPUT_BYTE`` a byte) and a CPU
limit (``SECONDS``), and a worker that runs past either is killed and
replaced. The caller gets ``InvalidMessage`` with the reason; the server
goes on answering everyone else.

The pool has ``size`` workers; more concurrent reads than that wait for one,
which also bounds the memory all reads take together.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import mailfiler
from mailfiler.core.message import Message
from mailfiler.errors import InvalidMessage

# The same limits as a contained parser's (sandbox.py): one limit for every format.
from mailfiler.service.sandbox import MEMORY_BASE, MEMORY_PER_INPUT_BYTE, SECONDS

# The target's name's length, the message's length, the memory limit, the CPU seconds; then
# the name and the message as they are (not pickled: a copy fewer on each side).
_FRAME = struct.Struct("!QQQQ")
PIPE_BYTES = 1 << 20  # the largest pipe Linux gives an unprivileged process, by default
_ANSWER = struct.Struct("!Q")

RAN_OUT = "reading this message ran past its memory or time limit: it is damaged or hostile"


class _WorkerLost(Exception):
    """The worker died or stopped answering: killed by a limit, or never started."""


class _Worker:
    def __init__(self, module: str) -> None:
        source_root = str(Path(mailfiler.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (source_root, path) if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.to_worker: IO[bytes] = self.process.stdin
        self.from_worker: IO[bytes] = self.process.stdout
        for pipe in (self.to_worker, self.from_worker):
            # 1 MB, not 64 KB: a message crosses in a sixteenth of the turns of the two
            # processes (a 4 MB message: 11–12 ms, then 6–9.5). Left as it is if refused.
            with contextlib.suppress(OSError):
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def ask(self, target: str, data: bytes, *, memory: int, seconds: int) -> Any:
        name = target.encode()
        try:
            self.to_worker.write(_FRAME.pack(len(name), len(data), memory, seconds))
            self.to_worker.write(name)
            self.to_worker.write(data)
            self.to_worker.flush()
        except (BrokenPipeError, OSError) as error:
            raise _WorkerLost from error
        # Its CPU limit stops a busy worker; this deadline also stops one that waits.
        deadline = time.monotonic() + seconds * 2 + 5
        (length,) = _ANSWER.unpack(self._read(_ANSWER.size, deadline))
        return pickle.loads(self._read(length, deadline))  # noqa: S301 - our own worker

    def _read(self, count: int, deadline: float) -> bytes:
        fd = self.from_worker.fileno()
        chunks, remaining = [], count
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _WorkerLost
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise _WorkerLost
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.to_worker.close()
        self.from_worker.close()


class ReaderPool:
    """Worker processes that read messages, started when first needed."""

    def __init__(
        self, size: int | None = None, module: str = "mailfiler.service.reader_worker"
    ) -> None:
        self.size = size or max(os.cpu_count() or 1, 2)
        self.module = module
        self._slots = threading.BoundedSemaphore(self.size)
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def read(self, data: bytes) -> Message:
        """The message in ``data``; ``InvalidMessage`` with the reason when it is not one."""
        message = self.run("mailfiler.service.reader_worker:read", data)
        assert isinstance(message, Message)
        # The worker does not send back the bytes it was given.
        return replace(message, original=data) if message.format == "eml" else message

    def run(self, target: str, data: bytes, *, seconds: int = SECONDS) -> object:
        """``module:function`` (bytes -> a picklable value) run in a worker under the limits."""
        memory = MEMORY_BASE + MEMORY_PER_INPUT_BYTE * len(data)
        with self._slots:
            worker = self._take()
            try:
                kind, value, retire = worker.ask(target, data, memory=memory, seconds=seconds)
            except _WorkerLost:
                self._forget(worker)
                raise InvalidMessage(RAN_OUT) from None
            if retire:  # the worker answered and ends itself
                self._forget(worker)
            else:
                self._idle.put(worker)
        if kind == "ok":
            return value
        raise InvalidMessage(value)

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader pool is closed")
            worker = _Worker(self.module)
            self._all.add(worker)
            return worker

    def _forget(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        """Stop every worker (reads still running end with ``InvalidMessage``)."""
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.stop()


_shared: ReaderPool | None = None
_shared_size: int | None = None
_shared_lock = threading.Lock()


def use_size(size: int) -> None:
    """How many workers the process's pool will have (a bulk run's ``--jobs``), when it is
    made; a pool already made keeps its size."""
    global _shared_size
    _shared_size = size


def shared() -> ReaderPool:
    """The process's pool, made on first use and stopped when the process exits."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ReaderPool(_shared_size)
            atexit.register(_shared.close)
        return _shared
