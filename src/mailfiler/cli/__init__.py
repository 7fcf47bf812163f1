"""The mailfiler command line.

Exit codes: 0 every message was read (unmatched contacts are a result, not a
failure); 1 at least one message or input row could not be read (the others
were still done); 2 a usage error (bad option, unknown organisation or user);
3 the system failed (database unreachable): nothing was half-written; 4 the CRM could
not be reached for some messages, or did not take some records, after waiting out
throttling and dropped connections (the others were filed; filing the same messages
again files only those; 4 wins over 1).
"""

from __future__ import annotations

# Each module adds its commands to the one app (cli.common).
from mailfiler.cli import admin, contacts, filing, serve  # noqa: F401
from mailfiler.cli.common import app


def main() -> None:
    app()
