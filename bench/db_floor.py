"""The floor under POST /api/v1/messages on this machine: its queries alone, no Python work.

    .venv/bin/python bench/db_floor.py

Runs, with plain psycopg (prepared statements, one connection, no ORM), the
statements reading a 30-recipient message costs (the sign-in check, keeping
the upload, the contact lookup, the duplicate check, the commit) against a
fresh database with 1 000 contacts, and prints the time per read. Whatever
the application does, a read cannot be faster than this.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import ADMIN_URL, PASSWORD, address, load_contacts  # noqa: E402
from mailfiler import accounts, signin  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.service import Service  # noqa: E402

WHO = (
    "SELECT s.expires_at, u.id, u.username, u.roles, o.id, o.options, o.options_version "
    "FROM sessions s JOIN users u ON u.id = s.user_id "
    "JOIN organisations o ON o.id = s.organisation_id WHERE s.token_hash = %s"
)
KEEP = (
    "INSERT INTO uploads (ref, organisation_id, user_id, sha256, size, content, mode, "
    "attachments_missing, created_at) VALUES (%s, %s, %s, %s, %s, %s, 'read', false, now())"
)
LOOKUP = (
    "SELECT ce.address_key, c.contact_id, c.full_name, c.organization FROM contact_emails ce "
    "JOIN contacts c ON c.id = ce.contact_pk "
    "WHERE ce.organisation_id = %s AND ce.address_key = ANY(%s) ORDER BY c.contact_id"
)
FILED = (
    "SELECT c.contact_id, min(i.id) FROM interactions i JOIN contacts c ON c.id = i.contact_pk "
    "WHERE i.organisation_id = %s AND i.message_key = %s GROUP BY c.contact_id"
)


def main() -> None:
    name = f"mailfiler_floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        service = Service(Settings(url, Path("/tmp/mailfiler-floor-blobs")))
        service.migrate()
        with service.unit() as session:
            tenant = accounts.create_organisation(session, "SMALL", "Small", "MANAGER")
            user = accounts.add_user(session, tenant, "bench", "", ["Staff"], PASSWORD)
            user_id = user.id
        load_contacts(url.replace("+psycopg", ""), tenant.id, "SMALL", 1000)
        with service.unit() as session:
            attempt = signin.attempt(session, "SMALL", "bench", PASSWORD, "bench")
        service.database.dispose()
        assert attempt.token is not None
        token = hashlib.sha256(attempt.token.encode()).hexdigest()
        rng = random.Random(1)
        body = b"x" * 3000
        with psycopg.connect(url.replace("+psycopg", "")) as connection:

            def one_read() -> None:
                keys = [address("SMALL", rng.randrange(1000)) for _ in range(30)]
                with connection.transaction():
                    connection.execute(WHO, (token,)).fetchall()
                    connection.execute(
                        KEEP, (secrets.token_urlsafe(18), tenant.id, user_id, "x", 3000, body)
                    )
                    connection.execute(LOOKUP, (tenant.id, keys)).fetchall()
                    connection.execute(FILED, (tenant.id, f"mid:{rng.random()}")).fetchall()

            for _ in range(50):
                one_read()
            started = time.perf_counter()
            count = 500
            for _ in range(count):
                one_read()
            elapsed = (time.perf_counter() - started) / count * 1000
        print(f"the queries of one read, raw psycopg, nothing else: {elapsed:.2f} ms")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
