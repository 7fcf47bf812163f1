"""Reading and filing speed, and the memory one 100 MB message costs. Prints its figures.

    .venv/bin/python bench/filing.py [--corpus-mb 120] [--big-mb 100] [--counts 100,1000,3000]

Needs fast-mail-parser, a benchmark-only dependency (``.venv/bin/pip install -e
'.[bench]'``; without it that line says so), and the PostgreSQL server on
127.0.0.1:5432 (a database of its own, dropped at the end).

1. Generates a corpus of messages (text, HTML alternatives, inline images,
   attachments from 1 KB to 4 MB) into a temporary folder.
2. Parses every message, in process, with fast-mail-parser (Rust) and with the
   stdlib ``email`` package, and reads it with mailfiler's reader, in process
   and through the reader processes the service uses: MB/s of message bytes.
3. Files the corpus end to end with the real command, ``mailfiler file DIR``
   (read, match, plan, write records and attachment contents), into a fresh
   SQLite database and a fresh PostgreSQL one: MB/s, and as ratios of the
   parse-only figures of the same run.
4. Files 100, 1 000 and 3 000 small messages (a 20 KB attachment each) with
   the same command into SQLite: seconds and milliseconds a message, to show
   how the cost grows.
5. In a fresh process, files one message of about 100 MB and reports the peak
   resident memory growth (VmHWM, reset before the run) against its size.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(ROOT))

from bench.api import bench_database  # noqa: E402
from mailfiler import accounts  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.connectors.base import ContactRow  # noqa: E402
from mailfiler.connectors.builtin.connector import BuiltinCRM  # noqa: E402
from mailfiler.core.read import read_message  # noqa: E402
from mailfiler.service import Service  # noqa: E402

CONTACTS = [f"member{n}@members.example" for n in range(200)]
LOREM = (
    "Dear member, thank you for your renewal. The committee meets on Tuesday to "
    "discuss the budget, the conference and the newsletter. "
) * 4


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def make_message(number: int, rng: random.Random, attachment_bytes: int | None = None) -> bytes:
    people = [*rng.sample(CONTACTS, 4), f"stranger{number}@elsewhere.example"]
    head = (
        f"From: Member {number} <{people[0]}>\r\nTo: {people[1]}, staff@acme.example\r\n"
        f"Cc: {people[2]}, {people[3]}, {people[4]}\r\nSubject: Renewal question {number}\r\n"
        f"Date: Tue, 24 Nov 2026 09:{number % 60:02d}:00 +0000\r\n"
        f"Message-ID: <bench-{number}@members.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="mixed"\r\n\r\n'
    ).encode()
    html = f"<html><body><p>{LOREM}</p><img src='cid:logo{number}'></body></html>"
    body = (
        b'--mixed\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n'
        b'--rel\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + LOREM.encode() + b"\r\n"
        b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode() + b"\r\n"
        b"--alt--\r\n"
        b"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo" + str(number).encode() + b">\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(rng.randbytes(2048)) + b"--rel--\r\n"
    )
    size = (
        attachment_bytes
        if attachment_bytes is not None
        else rng.choice([1024, 20_000, 150_000, 600_000, 4_000_000])
    )
    body += (
        b"--mixed\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="report-' + str(number).encode() + b'.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(rng.randbytes(size)) + b"--mixed--\r\n"
    )
    return head + body


def make_corpus(folder: Path, megabytes: int) -> list[Path]:
    rng = random.Random(20261126)
    paths: list[Path] = []
    total = 0
    while total < megabytes * 1_000_000:
        data = make_message(len(paths), rng)
        path = folder / f"{len(paths):05d}.eml"
        path.write_bytes(data)
        paths.append(path)
        total += len(data)
    return paths


def new_service(folder: Path) -> Service:
    service = Service(Settings(f"sqlite:///{folder / 'bench.db'}", folder / "blobs"))
    service.migrate()
    with service.unit() as session:
        tenant = accounts.create_organisation(session, "BENCH", "Bench", "MANAGER")
        accounts.add_user(session, tenant, "jdoe", "staff@acme.example", ["Staff"])
        rows = [ContactRow(str(n), f"Member {n}", (a,)) for n, a in enumerate(CONTACTS)]
        BuiltinCRM(session, tenant.id, service.blobs).upsert_contacts(rows)
    return service


def rate(paths: list[Path], work: object) -> float:
    datas = [p.read_bytes() for p in paths]
    size = sum(len(d) for d in datas)
    started = time.perf_counter()
    for data in datas:
        work(data)  # type: ignore[operator]
    return size / 1_000_000 / (time.perf_counter() - started)


def big_message_memory(folder: Path, megabytes: int) -> dict[str, float]:
    """Run in a fresh process so nothing else is in its peak."""
    path = folder / "big.eml"
    path.write_bytes(make_message(0, random.Random(1), attachment_bytes=int(megabytes * 0.75e6)))
    script = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT / "src")!r})
sys.path.insert(0, {str(ROOT)!r})
from bench.filing import new_service
from mailfiler.core.plan import Choices
from pathlib import Path
folder = Path({str(folder)!r}) / "big"
folder.mkdir()
service = new_service(folder)
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to now
before = rss("VmRSS:")
started = time.perf_counter()
data = Path({str(path)!r}).read_bytes()
message = service.read(data)
outcome = service.file("BENCH", "jdoe", message, Choices())
seconds = time.perf_counter() - started
saved = sum(p.status == "saved" for p in outcome.participants)
print(json.dumps({{"size": len(data), "growth": rss("VmHWM:") - before, "seconds": seconds,
                  "saved": saved}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


MAILFILER = Path(sys.executable).parent / "mailfiler"


def cli_filing(database: str, folder: Path, corpus: Path) -> tuple[float, int]:
    """``mailfiler file CORPUS`` into a new organisation of ``database``, by the real command
    in a process of its own: (seconds of the filing command alone, records it saved)."""
    env = {**os.environ, "MAILFILER_DB": database, "MAILFILER_BLOBS": str(folder / "blobs")}

    def mailfiler(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [MAILFILER, *args], env=env, input=stdin, capture_output=True, text=True, check=True
        )
        return done.stdout

    contacts = folder / "contacts.csv"
    contacts.write_text(
        "id,full_name,emails,organization\n"
        + "".join(f"{n},Member {n},{a},\n" for n, a in enumerate(CONTACTS))
    )
    mailfiler("init", "--cloud-id", "BENCH", "--name", "Bench")
    mailfiler("users", "add", "jdoe", "--cloud-id", "BENCH", "--email", "staff@acme.example",
              "--roles", "Staff", "--password-stdin", stdin="bench password\n")  # fmt: skip
    mailfiler("contacts", "import", str(contacts), "--cloud-id", "BENCH")
    started = time.perf_counter()
    out = mailfiler("file", str(corpus), "--cloud-id", "BENCH", "--user", "jdoe", "--json")
    seconds = time.perf_counter() - started
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    saved = sum(r["status"] == "saved" for report in reports for r in report["results"])
    return seconds, saved


def fast_mail_parser_rate(paths: list[Path]) -> float | None:
    try:
        from fast_mail_parser import parse_email  # type: ignore[import-not-found]
    except ImportError:
        return None
    return rate(paths, parse_email)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus-mb", type=int, default=120)
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--counts", default="100,1000,3000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailfiler-bench-") as temporary:
        folder = Path(temporary)
        (folder / "corpus").mkdir()
        paths = make_corpus(folder / "corpus", args.corpus_mb)
        size = sum(p.stat().st_size for p in paths) / 1_000_000
        print(f"corpus: {len(paths)} generated messages, {size:.1f} MB")

        fast = fast_mail_parser_rate(paths)
        stdlib = rate(paths, lambda d: _stdlib_read(d))
        ours = rate(paths, read_message)
        service = new_service(folder)
        pooled = rate(paths, service.read)
        service.close()
        if fast is None:
            print("parse  fast-mail-parser     not installed (pip install -e '.[bench]')")
        else:
            print(f"parse  fast-mail-parser     {fast:8.1f} MB/s")
        print(f"parse  stdlib email         {stdlib:8.1f} MB/s")
        print(f"read   mailfiler, in process {ours:7.1f} MB/s   ({ours / stdlib:.2f} x stdlib)")
        print(f"read   mailfiler, readers   {pooled:8.1f} MB/s   ({pooled / stdlib:.2f} x stdlib)")

        sqlite = f"sqlite:///{folder / 'filed.db'}"
        with bench_database("mailfiler_filing") as postgresql:
            for name, database in (("SQLite", sqlite), ("PostgreSQL", postgresql)):
                where = folder / name
                where.mkdir()
                seconds, saved = cli_filing(database, where, folder / "corpus")
                speed = size / seconds
                against = f"{speed / stdlib:.2f} x stdlib"
                if fast is not None:
                    against += f", {speed / fast:.3f} x fast-mail-parser"
                print(
                    f"file   mailfiler file DIR, {name:<10} {speed:7.1f} MB/s   ({against}; "
                    f"{len(paths)} messages, {saved} records, {seconds:.1f} s)"
                )

        for count in (int(n) for n in args.counts.split(",")):
            small = folder / f"small-{count}"
            small.mkdir()
            rng = random.Random(count)
            for number in range(count):
                data = make_message(number, rng, attachment_bytes=20_000)
                (small / f"{number:05d}.eml").write_bytes(data)
            where = folder / f"filed-{count}"
            where.mkdir()
            seconds, saved = cli_filing(f"sqlite:///{where / 'f.db'}", where, small)
            print(
                f"file   {count:>5} messages, SQLite: {seconds:7.1f} s = "
                f"{seconds / count * 1000:6.1f} ms a message ({saved} records)"
            )

        big = big_message_memory(folder, args.big_mb)
        ratio = big["growth"] / big["size"]
        print(
            f"one {big['size'] / 1e6:.0f} MB message: peak memory growth "
            f"{big['growth'] / 1e6:.0f} MB = {ratio:.2f} x its size (target < 4), "
            f"filed to {big['saved']:.0f} contacts in {big['seconds']:.1f} s"
        )


def _stdlib_read(data: bytes) -> None:
    message = email.message_from_bytes(data, policy=email.policy.default)
    message.get_body(("html", "plain"))
    for part in message.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)


if __name__ == "__main__":
    main()
