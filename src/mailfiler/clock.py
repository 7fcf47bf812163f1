"""What time it is, injectable: tests freeze it, so no test depends on the calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC, with its zone."""
    return datetime.now(UTC)


def frozen(moment: datetime) -> Clock:
    """A clock that always says ``moment`` (which must carry its zone)."""
    if moment.tzinfo is None:
        raise ValueError("a frozen moment needs its time zone")
    return lambda: moment
