"""`mailfiler contacts import` against its floor, on SQLite and PostgreSQL, in one run.

    .venv/bin/python bench/contacts_import.py [--contacts 20000]

Writes a contacts CSV of ``--contacts`` rows ("Member N", one or two addresses, an
organization; the same file for every figure) and prints, in contacts per second:

- the floor: the same file read by ``csv`` and its rows written by
  ``sqlite3.executemany`` into two plain tables (contacts, addresses) of a new SQLite
  file, in one transaction;
- ``mailfiler contacts import`` (the real command, in its own process, timed from start to
  exit: its start-up is in the figure) into a new SQLite database and into a new
  PostgreSQL database, first as new contacts, then the same file again (every contact
  updated); the ratio to the floor beside each;
- ``mailfiler --help``, the command's start-up alone, for scale.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import bench_database  # noqa: E402

MAILFILER = str(Path(sys.executable).with_name("mailfiler"))


def write_csv(path: Path, contacts: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["id", "full_name", "emails", "organization"])
        for n in range(contacts):
            emails = [f"member{n}@big.example"]
            if rng.random() < 0.4:
                emails.append(f"m.{n}@work{n % 97}.example")
            out.writerow([100000 + n, f"Member {n}", ";".join(emails), f"Company {n % 500}"])


def floor(path: Path, folder: Path) -> float:
    """Seconds for csv + sqlite3.executemany to write the file's rows."""
    database = sqlite3.connect(folder / "floor.db")
    database.execute(
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, contact_id TEXT, full_name TEXT, "
        "organization TEXT)"
    )
    database.execute("CREATE TABLE emails (contact_pk INTEGER, address TEXT)")
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    with database:
        database.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?, ?)",
            ((n, r["id"], r["full_name"], r["organization"]) for n, r in enumerate(rows, 1)),
        )
        database.executemany(
            "INSERT INTO emails VALUES (?, ?)",
            ((n, e) for n, r in enumerate(rows, 1) for e in r["emails"].split(";")),
        )
    seconds = time.perf_counter() - started
    database.close()
    return seconds


def command(url: str, blobs: Path, *args: str) -> float:
    """Seconds the command ran, start to exit."""
    environment = {**os.environ, "COLUMNS": "200"}
    started = time.perf_counter()
    subprocess.run(
        [MAILFILER, "--db", url, "--blobs", str(blobs), *args],
        check=True, env=environment, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def imports(url: str, blobs: Path, path: Path) -> tuple[float, float]:
    """Seconds for the first import (all new) and the second (all updated)."""
    command(url, blobs, "init", "--cloud-id", "BIG", "--name", "Big")
    first = command(url, blobs, "contacts", "import", str(path), "--cloud-id", "BIG")
    again = command(url, blobs, "contacts", "import", str(path), "--cloud-id", "BIG")
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    args = parser.parse_args()
    n = args.contacts
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "contacts.csv"
        write_csv(path, n)
        print(f"{n:,} contacts, {path.stat().st_size / 1e6:.1f} MB of CSV")
        base = floor(path, folder)
        print(f"floor, csv + sqlite3.executemany: {n / base:>9,.0f} contacts/s")
        start_up = command("sqlite:///" + str(folder / "help.db"), folder / "b0", "--help")
        print(f"mailfiler --help (start-up alone): {start_up:.2f} s")
        sqlite_url = f"sqlite:///{folder / 'import.db'}"
        figures = {"SQLite": imports(sqlite_url, folder / "b1", path)}
        with bench_database("mailfiler_import") as url:
            figures["PostgreSQL"] = imports(url, folder / "b2", path)
        for database, (first, again) in figures.items():
            for what, seconds in (("new", first), ("updated", again)):
                print(
                    f"mailfiler contacts import, {database:<10} {what:<8}: "
                    f"{n / seconds:>9,.0f} contacts/s = {base / seconds:.3f} x the floor "
                    f"({seconds:.1f} s)"
                )


if __name__ == "__main__":
    main()
