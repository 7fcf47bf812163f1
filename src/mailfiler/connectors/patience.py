"""How long a remote CRM may keep mailfiler waiting: the caller's patience, in a contextvar.

A remote CRM throttles (429, often with ``Retry-After``) and drops
connections. Whether to wait it out depends on who is waiting, which the
connector cannot know: a person at the task pane waits seconds, a bulk
``mailfiler file`` run can wait minutes and show why on its progress line.
The caller says so here, and the connector reads it, so the connector never
knows the CLI (and the CLI never imports a connector).

Each ``Patience`` is one allowance of pausing, spent by every call made
while it is current: the CLI gives each message its own. Sleeping goes
through ``sleeping`` so that tests record pauses instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final

# A person is waiting (the web service): pause at most this long, in all, per call.
INTERACTIVE: Final = 10.0  # seconds

# Told of each pause as it starts: how long, and why (a sentence, e.g. for a progress line);
# and as it ends, with 0 seconds and no reason.
PauseListener = Callable[[float, str], None]


@dataclass
class Patience:
    """An allowance of pausing (``total`` seconds, in all), what has been spent of it, and
    who is told of each pause."""

    total: float
    on_pause: PauseListener | None = None
    spent: float = field(default=0.0)

    def allows(self, seconds: float) -> bool:
        return self.spent + seconds <= self.total

    def pause(self, seconds: float, why: str) -> None:
        """Wait ``seconds`` (the caller checked ``allows``), telling the listener first."""
        self.spent += seconds
        if self.on_pause is not None:
            self.on_pause(seconds, why)
        sleeping.get()(seconds)
        if self.on_pause is not None:
            self.on_pause(0.0, "")


_current: ContextVar[Patience | None] = ContextVar("mailfiler_crm_patience", default=None)

# How to wait: the tests put a recorder here, so no test waits in real time.
sleeping: ContextVar[Callable[[float], None]] = ContextVar(
    "mailfiler_crm_sleep", default=time.sleep
)


def current() -> Patience:
    """The caller's patience; a person's (``INTERACTIVE``, fresh for each call) when none
    was given."""
    return _current.get() or Patience(INTERACTIVE)


@contextmanager
def patient(allowance: Patience) -> Iterator[Patience]:
    """Calls made inside use ``allowance``."""
    token = _current.set(allowance)
    try:
        yield allowance
    finally:
        _current.reset(token)
