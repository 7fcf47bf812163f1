"""Contact search at 1 000 and 1 000 000 contacts on PostgreSQL, through the HTTP API.

    .venv/bin/python bench/search.py [--contacts 1000000] [--requests 200]

Loads two organisations into a PostgreSQL database of its own (as
bench/api.py does: SMALL with 1 000 contacts, BIG with ``--contacts``, each
contact "Member N" with the address memberN@<org>.example), starts
``mailfiler serve``, and times ``GET /api/v1/contacts?q=...`` one request at
a time (the standard library's http.client, one kept-alive connection),
``--requests`` timed requests per kind of query after 20 warm-up ones:

- selective: a name that is one contact's ("member 123457"), an address
  ("member123457@big.example"), a contact ID ("154321"), part of an address
  ("member123457@big": no whole address, found as a substring), part of a
  name ("ber 123457");
- broad: words most contacts hold ("member", "me", "example").

Prints p50 and p99 per kind and size (target, issue 11: p50 <= 20 ms and
p99 <= 100 ms at a million contacts, for selective and broad queries alike),
beside ``GET /healthz`` (the floor of the stack).
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    bench_database,
    empty_requests,
    load_organisations,
    percentile,
    serving,
    sign_in,
)


def queries(contacts: int, org: str, rng: random.Random) -> dict[str, list[str]]:
    def some() -> int:
        return rng.randrange(contacts)

    return {
        "selective: a whole name": [f"member {some()}" for _ in range(40)],
        "selective: an address": [f"member{some()}@{org.lower()}.example" for _ in range(40)],
        "selective: a contact ID": [str(100000 + some()) for _ in range(40)],
        "selective: part of an address": [f"member{some()}@{org.lower()}" for _ in range(40)],
        "selective: part of a name": [f"ber {some()}" for _ in range(40)],
        "broad: member": ["member"],
        "broad: me": ["me"],
        "broad: example": ["example"],
    }


def timed(base: str, headers: dict[str, str], words: list[str], requests: int) -> list[float]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    found = []
    try:
        for index in range(requests + 20):
            word = words[index % len(words)]
            started = time.perf_counter()
            connection.request("GET", f"/api/v1/contacts?q={quote(word)}", headers=headers)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            if index >= 20:
                found.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with bench_database("mailfiler_search") as url, tempfile.TemporaryDirectory() as folder:
        sizes = {"SMALL": 1000, "BIG": args.contacts}
        load_organisations(url, Path(folder) / "blobs", sizes, ["Staff"])
        with serving(url, Path(folder) / "blobs", 1) as (base, _):
            floor = empty_requests(base, args.requests)
            print(f"GET /healthz (the floor): p50 {floor:5.2f} ms")
            rng = random.Random(5)
            for org, count in sizes.items():
                headers = sign_in(base, org)
                for kind, words in queries(count, org, rng).items():
                    times = timed(base, headers, words, args.requests)
                    print(
                        f"{count:>9,} contacts  {kind:<30} p50 {statistics.median(times):6.2f} ms"
                        f"   p99 {percentile(times, 0.99):6.2f} ms"
                    )


if __name__ == "__main__":
    main()
