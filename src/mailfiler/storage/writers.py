"""Which process is writing a record, and whether it still runs.

A save reserves its ledger entries naming its process: the machine (host
name, PID namespace and boot), the process ID and when that process started (so a process
ID used again by a newer process is not taken for the old one). A later
save on the same machine then knows at once whether the writer died
(``kill -9``, a crash, a power cut); for a writer on another machine it
cannot look, and the writer's heartbeat in the ledger tells instead.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from typing import Final

_SEPARATOR: Final = "|"
_mine: dict[int, str] = {}  # process ID -> its writer name (a forked child has its own)


def _boot() -> str:
    with suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
        return boot.read().strip()
    return ""


def _started(pid: int) -> str | None:
    """When the process started (clock ticks since boot), or None when there is none running."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: count after its end.
    fields = text[text.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):  # a zombie has ended; only its entry is left
        return None
    return fields[19]  # field 22 of proc(5): starttime


def this_writer() -> str:
    """This process, as the ledger names a writer."""
    pid = os.getpid()
    if pid not in _mine:
        _mine[pid] = named(pid)
    return _mine[pid]


def named(pid: int) -> str:
    """A running process of this machine, as the ledger names a writer."""
    return _SEPARATOR.join(
        (socket.gethostname(), _namespace(), _boot(), str(pid), _started(pid) or "")
    )


def _namespace() -> str:
    """This process's PID namespace: two containers sharing a host name number their
    processes each in their own, and one must never judge the other's by its numbers."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def gone(writer: str | None) -> bool | None:
    """True when that writer has ended, False when it runs; None when this machine cannot
    tell (another machine, an unknown writer)."""
    if not writer:
        return None
    parts = writer.split(_SEPARATOR)
    if len(parts) != 5:
        return None
    host, namespace, boot, pid, started = parts
    this_boot = _boot()
    if host != socket.gethostname() or not namespace or namespace != _namespace():
        return None
    if not boot or not this_boot or not pid.isdigit():
        return None
    if boot != this_boot:  # this machine has started again since: every process then ended
        return True
    return _started(int(pid)) != started
