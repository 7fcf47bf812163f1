"""How a reader runs a parser it does not trust.

Outlook and TNEF parsers are third-party code that hostile files have driven
into endless allocation (see corpus/README.txt). ``core`` stays pure: it asks
for a ``Contain`` and calls the risky parser through it. The service passes
``mailfiler.service.sandbox.run_limited`` (a child process under memory and time
limits); tests of pure rules may pass ``run_inline``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Contain(Protocol):
    def __call__(self, work: Callable[[bytes], T], data: bytes, /) -> T: ...


def run_inline(work: Callable[[bytes], T], data: bytes, /) -> T:
    return work(data)
