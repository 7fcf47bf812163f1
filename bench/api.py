"""Latency of POST /api/v1/messages at 1 000 and 1 000 000 contacts, and save throughput.

    .venv/bin/python bench/api.py [--contacts 1000000] [--requests 600] [--workers 2]

Uses the PostgreSQL server on 127.0.0.1:5432 (a database of its own, dropped
at the end), loads two organisations (SMALL with 1 000 contacts, BIG with
1 000 000, each contact with one address), starts the real server
(`mailfiler serve`), then:

1. one client posts a 30-recipient message (28 of them contacts) to each
   organisation in turn, one request at a time, and prints p50 / p99 latency
   per organisation and the ratio BIG / SMALL;
2. 16 concurrent clients each read the same kind of message and save it as
   Interactions (POST /messages, then POST /messages/{ref}/interactions: one
   Interaction per contact, 28 a save), and it prints save calls per second
   and Interactions written per second;
3. the contact routes at one million contacts, one request at a time: search
   by name and by address, add a contact, open one with its timeline (p50);
4. issue 17's save: 16 clients each reading and saving a message of three
   contacts with a 2 KB attachment (saves/s, the save call's p50 and p99);
   and beside it the database's floor: transactions of three inserts a
   second from 16 plain psycopg connections.

Targets (issue 3): p50 <= 5 ms, p99 <= 25 ms at one million contacts, ratio
<= 1.3; >= 200 Interaction saves per second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mailfiler import accounts  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.core.search import searchable  # noqa: E402
from mailfiler.service import Service  # noqa: E402

ADMIN_URL = os.environ.get("MAILFILER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password"  # noqa: S105


def address(org: str, number: int) -> str:
    return f"member{number}@{org.lower()}.example"


def load_contacts(url: str, organisation_id: int, org: str, count: int) -> float:
    """COPY the contacts in (the CSV import is for people; this is for a million)."""
    started = time.perf_counter()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        first = cursor.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()
        base = int(first[0]) if first else 0
        with cursor.copy(
            "COPY contacts (id, organisation_id, contact_id, full_name, full_name_key, "
            "organization, created_at, updated_at, search_text) FROM STDIN"
        ) as copy:
            for n in range(count):
                name = f"Member {n}"
                copy.write_row(
                    (
                        base + n + 1,
                        organisation_id,
                        str(100000 + n),
                        name,
                        name.lower(),
                        "",
                        "now()",
                        "now()",
                        searchable(name, "", [address(org, n)]),
                    )
                )
        with cursor.copy(
            "COPY contact_emails (contact_pk, organisation_id, address, address_key, position) "
            "FROM STDIN"
        ) as copy:
            for n in range(count):
                mail = address(org, n)
                copy.write_row((base + n + 1, organisation_id, mail, mail, 0))
        cursor.execute("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")
        # As an import does: new contacts are numbered after the loaded ones.
        cursor.execute(
            "INSERT INTO contact_numbers (organisation_id, last_number) VALUES (%s, %s)",
            (organisation_id, 100000 + count - 1),
        )
    with psycopg.connect(url, autocommit=True) as connection:
        # What autovacuum does soon after a bulk load anyway: statistics, and
        # the visibility map that lets a lookup be answered from its index.
        connection.execute("VACUUM ANALYZE contacts")
        connection.execute("VACUUM ANALYZE contact_emails")
        # Write the loaded pages out now, not in the background while timing.
        connection.execute("CHECKPOINT")
    return time.perf_counter() - started


def message(org: str, contacts: int, rng: random.Random, recipients: int = 30) -> bytes:
    people = [address(org, rng.randrange(contacts)) for _ in range(recipients - 2)]
    people += [f"stranger{rng.randrange(10**6)}@elsewhere.example" for _ in range(2)]
    to, cc = people[1:21], people[21:]
    return (
        f"From: Member <{people[0]}>\r\nTo: {', '.join(to)}\r\nCc: {', '.join(cc)}\r\n"
        f"Subject: Renewal question\r\nDate: Tue, 24 Nov 2026 09:15:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4()}@{org.lower()}.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=alt\r\n\r\n"
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hello, a question about renewal.\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Hello, a <b>question</b> about renewal.</p>\r\n--alt--\r\n"
    ).encode()


def small_message(org: str, contacts: int, rng: random.Random) -> bytes:
    """Issue 17's save: three contacts (From and two To), a small attachment (2 KB)."""
    people = [address(org, rng.randrange(contacts)) for _ in range(3)]
    attached = base64.encodebytes(rng.randbytes(2048)).decode().replace("\n", "\r\n")
    return (
        f"From: Member <{people[0]}>\r\nTo: {people[1]}, {people[2]}\r\n"
        f"Subject: Minutes attached\r\nDate: Tue, 24 Nov 2026 09:15:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4()}@{org.lower()}.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=mix\r\n\r\n"
        "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe minutes.\r\n"
        "--mix\r\nContent-Type: application/pdf; name=minutes.pdf\r\n"
        "Content-Disposition: attachment; filename=minutes.pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{attached}--mix--\r\n"
    ).encode()


def database_floor(url: str, clients: int, seconds: float) -> float:
    """Transactions a second that each insert three rows and commit, from ``clients``
    threads over plain psycopg: what the database itself allows a save (each save writes
    at least this, and more)."""
    plain = url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS floor_probe (id serial, note text)")
    deadline = time.perf_counter() + seconds
    done = [0] * clients

    def client(number: int) -> None:
        with psycopg.connect(plain) as connection:
            while time.perf_counter() < deadline:
                with connection.transaction():
                    for _ in range(3):
                        connection.execute("INSERT INTO floor_probe (note) VALUES ('x')")
                done[number] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(base: str, cloud_id: str) -> dict[str, str]:
    answer = httpx2.post(
        f"{base}/api/v1/session",
        json={"cloud_id": cloud_id, "username": "bench", "password": PASSWORD},
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def latencies(base: str, orgs: dict[str, int], requests: int) -> dict[str, list[float]]:
    """Milliseconds per read, one request at a time over one kept-alive connection.

    The client is the standard library's ``http.client``: the figure is the
    server's time plus one loopback round trip, not a client library's own
    work (httpx adds about 0.8 ms a request on this machine).
    """
    rng = random.Random(7)
    found: dict[str, list[float]] = {org: [] for org in orgs}
    headers = {org: sign_in(base, org) for org in orgs}
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    try:
        for index in range(requests + 50):
            for org, contacts in orgs.items():
                body = message(org, contacts, rng)
                started = time.perf_counter()
                connection.request(
                    "POST",
                    "/api/v1/messages",
                    body=body,
                    headers={**headers[org], "Content-Type": "message/rfc822"},
                )
                answer = connection.getresponse()
                text = answer.read()
                elapsed = time.perf_counter() - started
                assert answer.status == 201, text
                if index >= 50:  # the first requests warm caches and connections
                    found[org].append(elapsed * 1000)
    finally:
        connection.close()
    return found


def empty_requests(base: str, requests: int) -> float:
    """p50 milliseconds of a request the server answers without doing anything."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    times = []
    try:
        for index in range(requests + 50):
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            if index >= 50:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return statistics.median(times)


def contact_calls(base: str, org: str, requests: int = 20) -> dict[str, float]:
    """p50 milliseconds of the contact routes a user calls from the task pane and staff site."""
    headers = sign_in(base, org)
    calls = {
        "search by name": lambda n: ("GET", f"/api/v1/contacts?q=member%20{n * 7919}", None),
        "search by address": lambda n: (
            "GET",
            f"/api/v1/contacts?q={address(org, n * 7919)}",
            None,
        ),
        "add a contact": lambda n: (
            "POST",
            "/api/v1/contacts",
            {
                "full_name": f"New Member {n}",
                "emails": [f"new{n}.{uuid.uuid4().hex[:6]}@x.example"],
            },
        ),
        "open a contact and its timeline": lambda n: (
            "GET",
            f"/api/v1/contacts/{100000 + n}",
            None,
        ),
    }
    found = {}
    with httpx2.Client(base_url=base, headers=headers, timeout=60) as client:
        for name, call in calls.items():
            times = []
            for n in range(requests):
                method, path, body = call(n)
                started = time.perf_counter()
                answer = client.request(method, path, json=body)
                times.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            found[name] = statistics.median(times)
    return found


async def throughput(
    base: str,
    org: str,
    contacts: int,
    clients: int,
    seconds: float,
    make: Callable[[str, int, random.Random], bytes] = message,
    save_times: list[float] | None = None,
) -> tuple[int, int, float]:
    headers = sign_in(base, org)
    rng = random.Random(11)
    saves = written = 0
    deadline = time.perf_counter() + seconds

    async def one_client(client: httpx2.AsyncClient) -> None:
        nonlocal saves, written
        while time.perf_counter() < deadline:
            body = make(org, contacts, rng)
            read = await client.post(
                "/api/v1/messages",
                content=body,
                headers={**headers, "Content-Type": "message/rfc822"},
            )
            read.raise_for_status()
            ref = read.json()["message_ref"]
            started = time.perf_counter()
            saved = await client.post(
                f"/api/v1/messages/{ref}/interactions", json={}, headers=headers
            )
            if save_times is not None:
                save_times.append((time.perf_counter() - started) * 1000)
            saved.raise_for_status()
            saves += 1
            written += sum(r["status"] == "saved" for r in saved.json()["results"])

    started = time.perf_counter()
    limits = httpx2.Limits(max_connections=clients)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(one_client(client) for _ in range(clients)))
    return saves, written, time.perf_counter() - started


@contextmanager
def serving(
    url: str, blobs: Path, workers: int = 1, log: Path | None = None
) -> Iterator[tuple[str, int]]:
    """``mailfiler serve`` (the installed command) on a free port: its base URL and pid. The
    server's output goes to ``log`` when one is given, else nowhere."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MAILFILER_DB": url, "MAILFILER_BLOBS": str(blobs)}
    with open(log or os.devnull, "wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "mailfiler"), "serve", "--port", str(port),
             "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(300):
            try:
                httpx2.get(f"{base}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextmanager
def bench_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of the benchmark's own, dropped at the end: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def organisation(service: Service, url: str, org: str, contacts: int, roles: list[str]) -> float:
    """An organisation with a user "bench" and that many contacts; seconds the load took."""
    with service.unit() as session:
        tenant = accounts.create_organisation(session, org, org.title(), "MANAGER")
        accounts.add_user(session, tenant, "bench", "staff@acme.example", roles, PASSWORD)
    return load_contacts(url.replace("+psycopg", ""), tenant.id, org, contacts)


def load_organisations(url: str, blobs: Path, sizes: dict[str, int], roles: list[str]) -> None:
    """A migrated database with an organisation of each size (see ``organisation``)."""
    service = Service(Settings(url, blobs))
    service.migrate()
    for org, count in sizes.items():
        seconds = organisation(service, url, org, count, roles)
        print(f"loaded {count:>9,} contacts into {org:<5} in {seconds:5.1f} s")
    service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    with bench_database("mailfiler_bench") as url, tempfile.TemporaryDirectory() as folder:
        sizes = {"SMALL": 1000, "BIG": args.contacts}
        # SysAdmin: one of the default roles that may add contacts
        load_organisations(url, Path(folder) / "blobs", sizes, ["Staff", "SysAdmin"])
        with serving(url, Path(folder) / "blobs", args.workers) as (base, _):
            print(f"server: mailfiler serve --workers {args.workers} on PostgreSQL")

            floor = empty_requests(base, args.requests)
            print(f"GET /healthz (an answer that does nothing, the floor): p50 {floor:5.2f} ms")
            found = latencies(base, sizes, args.requests)
            p50 = {org: statistics.median(v) for org, v in found.items()}
            for org, values in found.items():
                print(
                    f"POST /api/v1/messages, 30 recipients, {sizes[org]:>9,} contacts: "
                    f"p50 {p50[org]:5.2f} ms   p99 {percentile(values, 0.99):5.2f} ms   "
                    f"({len(values)} requests)"
                )
            print(f"p50 ratio BIG / SMALL: {p50['BIG'] / p50['SMALL']:.2f}")

            for name, p50_ms in contact_calls(base, "BIG").items():
                print(f"{name:<32} at {args.contacts:>9,} contacts: p50 {p50_ms:7.2f} ms")

            saves, written, seconds = asyncio.run(
                throughput(base, "BIG", args.contacts, args.clients, args.seconds)
            )
            print(
                f"saves with {args.clients} concurrent clients: {saves / seconds:6.1f} saves/s, "
                f"{written / seconds:6.1f} Interactions written/s "
                f"({saves} read+save pairs of a 30-recipient message, in {seconds:.1f} s)"
            )
            times: list[float] = []
            saves, written, seconds = asyncio.run(
                throughput(
                    base, "BIG", args.contacts, args.clients, args.seconds, small_message, times
                )
            )
            p50_ms, p99_ms = statistics.median(times), percentile(times, 0.99)
            print(
                f"issue 17's save (Interaction, 3 contacts, a 2 KB attachment), {args.clients} "
                f"clients: {saves / seconds:6.1f} saves/s ({written / seconds:.1f} "
                f"Interactions/s), save call p50 {p50_ms:.1f} ms p99 {p99_ms:.1f} ms"
            )
        floor = database_floor(url, args.clients, 5)
        print(
            f"database floor, same run: {floor:6.1f} transactions/s of 3 inserts each from "
            f"{args.clients} plain psycopg connections"
        )


if __name__ == "__main__":
    main()
