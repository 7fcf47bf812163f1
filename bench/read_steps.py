"""Where the time of one message read goes: each step of POST /api/v1/messages, timed in-process.

    .venv/bin/python bench/read_steps.py [--contacts 1000000]

Uses the PostgreSQL server on 127.0.0.1:5432 (a database of its own, dropped
at the end) with one organisation of ``--contacts`` contacts, and reads
2 000 messages of 30 recipients (28 of them contacts, as in bench/api.py)
through the route's own function, without HTTP. Prints the p50 of each step,
and the p50 of the two statements a read sends to the database when sent
with plain psycopg (what the database costs, whatever the application does).
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import PASSWORD, bench_database, message, organisation  # noqa: E402
from mailfiler import accounts, service  # noqa: E402
from mailfiler.accounts import signin  # noqa: E402
from mailfiler.api.routes import messages  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.connectors.builtin import connector  # noqa: E402
from mailfiler.core.people import participants  # noqa: E402
from mailfiler.core.read import read_message  # noqa: E402
from mailfiler.service import uploads  # noqa: E402
from mailfiler.service.sandbox import run_limited  # noqa: E402

TIMES: dict[str, list[float]] = {}

STEPS: list[tuple[Any, str, str]] = [
    (messages, "_read_whole", "the whole read (no HTTP)"),
    (signin, "authenticate", "sign-in check"),
    (service.Service, "read", "reading the message (a reader process)"),
    (uploads, "store", "keeping the bytes"),
    (service, "participants", "who is on it"),
    (connector.BuiltinCRM, "find_contacts", "the contacts (one query)"),
    (service.ledger, "filed", "saved before? (the ledger, one query)"),
    (service, "match", "matching"),
    (service, "plan", "the rules"),
    (service, "activity_fields", "activity form"),
    (messages, "public", "the answer"),
]


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def step(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES.setdefault(label, []).append((time.perf_counter() - started) * 1000)

    setattr(owner, name, step)


def raw_statements(url: str, digest: str, organisation_id: int, bodies: list[bytes]) -> float:
    """p50 ms of the sign-in check and the contact lookup, prepared, over plain psycopg."""
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    who = str(signin._WHO.compile(dialect=dialect))
    look_up = str(connector._BY_ADDRESS[True].compile(dialect=dialect))
    times = []
    with psycopg.connect(url, autocommit=True) as connection:
        for body in bodies:
            keys = sorted({p.key for p in participants(read_message(body, run_limited), ())})
            started = time.perf_counter()
            connection.execute(who, {"digest": digest}, prepare=True).fetchall()
            connection.execute(
                look_up,
                {"organisation_id": organisation_id, "keys": keys},
                prepare=True,
            ).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[200:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_database("mailfiler_steps") as url, tempfile.TemporaryDirectory() as folder:
        the_service = service.Service(Settings(url, Path(folder) / "blobs"))
        the_service.migrate()
        organisation(the_service, url, "BIG", args.contacts, ["Staff"])
        with the_service.unit() as session:
            tenant = accounts.tenant(session, "BIG")
        token = signin.attempt(the_service.unit, "BIG", "bench", PASSWORD, "bench").token
        assert token is not None
        rng = random.Random(1)
        bodies = [message("BIG", args.contacts, rng) for _ in range(2200)]
        for owner, attribute, label in STEPS:
            timed(owner, attribute, label)
        limit = the_service.settings.max_message_bytes
        for body in bodies:
            sent = messages._Sent("message/rfc822", "message/rfc822", len(body), limit)
            messages._read_whole(the_service, token, sent, bytearray(body))
        print(f"one message read, 30 recipients, {args.contacts:,} contacts (p50 of 2 000):")
        for _, _, label in STEPS:
            values = TIMES.get(label, [])[200:]
            if values:
                print(f"  {label:<38} {statistics.median(values):6.3f} ms")
        the_service.close()
        raw = raw_statements(
            url.replace("+psycopg", ""), signin.token_hash(token), tenant.id, bodies
        )
        print(f"  {'its two statements, plain psycopg':<38} {raw:6.3f} ms")


if __name__ == "__main__":
    main()
