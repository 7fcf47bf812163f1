"""A burst of large uploads to the real server: /healthz meanwhile, memory after, and hang-ups.

    .venv/bin/python bench/upload_burst.py [--uploads 200] [--megabytes 5] [--users 20]
                                           [--hangups 300]

Starts ``mailfiler serve`` (one process, as it runs by default) on a SQLite
file of its own, with one organisation and ``--users`` users (Argon2's
default parameters, as in production), each signed in once. Then:

1. the server's resident memory at rest (``VmRSS`` of the server process, from
   ``/proc/PID/status``), after one small read has started its reader processes;
2. ``--uploads`` uploads of a ``--megabytes`` MiB message each (a text part and
   a base64 PDF-sized attachment of random bytes; every message distinct),
   all sent at once over their own connections, the users taking turns; half
   as ``message/rfc822`` (what Outlook sends), half as ``multipart/form-data``
   (the drop page); meanwhile another process asks ``GET /healthz`` every
   20 ms and a thread samples the server's ``VmRSS`` every 10 ms. Prints the
   /healthz latency p50 / p99 / max during the burst, how the uploads were
   answered, and the server's memory at rest, at its peak, and 2 s and 15 s
   after the last answer (the same figure for every reader process too);
3. ``--hangups`` clients at once that each declare a 5 MiB message, send 1 MiB
   of it and hang up: the lines the server logged for them, and the partial
   files left in its incoming folder.

The client runs on the same machine (the same cores) as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import PASSWORD, serving  # noqa: E402
from bench.hostile_server import health_latencies, summary, tree_rss  # noqa: E402
from mailfiler import accounts  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.service import Service  # noqa: E402

ORG = "BURST"
FORM_BOUNDARY = "mailfiler-bench-form-boundary"
MiB = 2**20


def resident(pid: int) -> int:
    """The process's resident bytes (``VmRSS``), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def message(number: int, attachment: bytes) -> bytes:
    head = (
        f"From: Sender {number} <sender{number}@elsewhere.example>\r\n"
        f"To: staff@burst.example\r\nSubject: Burst {number}: the report\r\n"
        f"Date: Tue, 24 Nov 2026 09:15:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4()}@burst.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=part\r\n\r\n"
        "--part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n"
        "--part\r\nContent-Type: application/pdf; name=report.pdf\r\n"
        "Content-Disposition: attachment; filename=report.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + attachment + b"\r\n--part--\r\n"


def attachment_of(size: int) -> bytes:
    """Base64 lines (76 characters and CRLF) taking up about ``size`` bytes."""
    raw = os.urandom(size * 57 // 78)
    return base64.encodebytes(raw).replace(b"\n", b"\r\n")


def request(token: str, body: bytes, form: bool) -> bytes:
    """The whole HTTP request: one upload, as Outlook (raw) or the drop page (a form) sends it."""
    kind = "message/rfc822"
    if form:
        body = (
            (
                f'--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="message.eml"\r\nContent-Type: message/rfc822\r\n\r\n'
            ).encode()
            + body
            + f"\r\n--{FORM_BOUNDARY}--\r\n".encode()
        )
        kind = f"multipart/form-data; boundary={FORM_BOUNDARY}"
    head = (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def send(port: int, data: bytes) -> int:
    """Send one request over a connection of its own; the answer's status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        status = await reader.readline()
        await reader.read()  # the rest of the answer, until the server closes
        return int(status.split()[1]) if status else 0
    finally:
        writer.close()


async def hang_up(port: int, token: str, declared: int, sent: int) -> None:
    """Declare ``declared`` bytes, send ``sent`` of them, then close the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: message/rfc822\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    writer.write(head + message(0, b"A" * sent)[:sent])
    await writer.drain()
    await asyncio.sleep(0.2)  # the server has started reading it
    writer.close()
    await writer.wait_closed()


async def burst(port: int, requests: list[bytes]) -> tuple[list[int], float]:
    started = time.perf_counter()
    codes = await asyncio.gather(*(send(port, r) for r in requests))
    return list(codes), time.perf_counter() - started


def poll_health(base: str, stop: Any, results: Connection) -> None:
    """In a process of its own: the client's own work must not delay the /healthz figures."""
    results.send(health_latencies(base, 3600, stop))


def lines_in(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def partial_files(incoming: Path) -> int:
    """Files of uploads never finished (their names start with a dot), in any subfolder."""
    return sum(1 for p in incoming.rglob(".*") if p.is_file()) if incoming.is_dir() else 0


def kept(incoming: Path) -> tuple[int, int]:
    files = [p for p in incoming.rglob("*") if p.is_file()] if incoming.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def mb(value: int) -> str:
    return f"{value / MiB:6.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--megabytes", type=float, default=5)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--hangups", type=int, default=300)
    args = parser.parse_args()

    size = int(args.megabytes * MiB)
    attachment = attachment_of(size)
    bodies = [message(n, attachment) for n in range(args.uploads)]
    print(
        f"{args.uploads} messages of {len(bodies[0]) / MiB:.2f} MiB each "
        f"(a text part and a {len(attachment) / MiB:.2f} MiB base64 attachment)"
    )

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        blobs, log = Path(folder) / "blobs", Path(folder) / "server.log"
        service = Service(Settings(url, blobs))
        service.migrate()
        with service.unit() as session:
            tenant = accounts.create_organisation(session, ORG, "Burst", "MANAGER")
            for number in range(args.users):
                accounts.add_user(session, tenant, f"user{number}", "", ["Staff"], PASSWORD)
        service.close()

        with serving(url, blobs, log=log) as (base, pid):
            port = int(base.rsplit(":", 1)[1])
            tokens = []
            for number in range(args.users):
                answer = httpx2.post(
                    f"{base}/api/v1/session",
                    json={"cloud_id": ORG, "username": f"user{number}", "password": PASSWORD},
                )
                answer.raise_for_status()
                tokens.append(answer.json()["token"])
            small = request(tokens[0], message(-1, b"aGVsbG8=\r\n"), form=False)
            assert asyncio.run(burst(port, [small]))[0] == [201]
            time.sleep(2)
            at_rest, tree_at_rest = resident(pid), tree_rss(pid)
            print(f"server: mailfiler serve (1 process) on SQLite, {os.cpu_count()} cores")

            requests = [
                request(tokens[n % len(tokens)], body, form=n % 2 == 1)
                for n, body in enumerate(bodies)
            ]
            del bodies

            context = multiprocessing.get_context("fork")
            stop = context.Event()
            receiving, sending = context.Pipe(duplex=False)
            poller = context.Process(target=poll_health, args=(base, stop, sending))
            poller.start()
            peak, sampling = at_rest, threading.Event()

            def sample() -> None:
                nonlocal peak
                while not sampling.is_set():
                    peak = max(peak, resident(pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample)
            sampler.start()
            time.sleep(0.5)  # the poller's first answers: a quiet baseline inside the figures
            codes, took = asyncio.run(burst(port, requests))
            stop.set()
            during = receiving.recv()
            poller.join()
            del requests
            time.sleep(2)
            after_2s = resident(pid)
            time.sleep(13)
            after_15s, tree_after = resident(pid), tree_rss(pid)
            sampling.set()
            sampler.join()

            answered = {str(c): codes.count(c) for c in sorted(set(codes))}
            print(
                f"{args.uploads} uploads at once ({args.users} users): answered {answered} "
                f"(status: count) in {took:.1f} s"
            )
            print(f"GET /healthz every 20 ms during the burst: {summary(during)}")
            print(
                f"server process VmRSS: at rest {mb(at_rest)}   peak {mb(peak)}   "
                f"2 s after {mb(after_2s)}   15 s after {mb(after_15s)}   "
                f"(+{(after_15s - at_rest) / MiB:.0f} MB for good)"
            )
            print(
                f"with its reader processes: at rest {mb(tree_at_rest)}   "
                f"15 s after {mb(tree_after)}"
            )
            incoming = blobs / "incoming"
            count, total = kept(incoming)
            print(f"incoming folder: {count} files, {total / MiB:.0f} MB")

            before = len(lines_in(log))
            declared = size

            async def hang_ups() -> None:
                await asyncio.gather(
                    *(
                        hang_up(port, tokens[n % len(tokens)], declared, MiB)
                        for n in range(args.hangups)
                    )
                )

            asyncio.run(hang_ups())
            time.sleep(3)
            logged = lines_in(log)[before:]
            tracebacks = sum(line.startswith("Traceback") for line in logged)
            print(
                f"{args.hangups} clients hanging up after 1 MiB of 5 MiB: {len(logged)} log lines "
                f"({tracebacks} tracebacks), {partial_files(incoming)} partial files left"
            )
            if logged:
                print(f"  first line: {logged[0][:160]}")


if __name__ == "__main__":
    main()
