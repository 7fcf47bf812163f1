"""Logging that keeps people's addresses and sign-in secrets out of log files.

As in Zulip's email gateway: an address in a log line is replaced by a
placeholder that keeps its domain (useful for finding a misbehaving mail
server) but not who it was.
"""

from __future__ import annotations

import logging
import re

_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@([\w-]+(?:\.[\w-]+)+)")
_BEARER = re.compile(r"(Bearer\s+)[\w.~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[token]", _ADDRESS.sub(r"[address]@\1", text))


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted (a filter on a logger covers its own records only)."""
    logger = logging.getLogger(name)
    _add(logger)
    return logger


def install() -> None:
    """Redact the server's own loggers too (uvicorn reports errors with request details)."""
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        _add(logging.getLogger(name))


def _add(logger: logging.Logger) -> None:
    if not any(isinstance(f, Redact) for f in logger.filters):
        logger.addFilter(Redact())
