"""The real server under hostile load: others' answers while worst-case mail is read, and sign-ins.

    .venv/bin/python bench/hostile_server.py [--workers 1] [--seconds 20]

Starts ``mailfiler serve --workers N`` (one process by default, as issue 9
measured it; each worker process adds its own resting memory and its own
password check) on a SQLite file of its own (one
organisation, users signed in with Argon2's default parameters, as in
production), then:

1. 32 right sign-ins of 32 users at once, on the freshly started server:
   the peak resident memory of the whole server (every process of it,
   summed, sampled every 5 ms) beside its resting figure (target: the peak
   under 400 MB);
2. 32 wrong passwords for one user at once: how many were checked (each
   checked one is answered 401; the others 429 without hashing), and any 5xx
   (target: exactly 5 and none);
3. two clients post, over and over, the worst input of each hostile family
   (bench/hostile_mail.py: 1 MB headers, 100 000 parts, 20 MB of base64
   garbage, oom.tnef ...) as one signed-in user, while a third client asks
   ``GET /healthz`` every 20 ms: prints the /healthz latency p50 / p99 / max
   (target, issue 9: within 100 ms) beside the same figures with no hostile
   reads (measured first), and how the hostile reads were answered.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.api import PASSWORD, percentile, serving  # noqa: E402
from bench.hostile_mail import FAMILIES  # noqa: E402
from mailfiler import accounts  # noqa: E402
from mailfiler.config import Settings  # noqa: E402
from mailfiler.service import Service  # noqa: E402

USERS = 32


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    family, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in family:
                family.add(pid)
                frontier.append(pid)
    total = 0
    for pid in family:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def health_latencies(base: str, seconds: float, stop: threading.Event | None = None) -> list[float]:
    found = []
    deadline = time.monotonic() + seconds
    with httpx2.Client(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            found.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    return found


def hostile_reads(base: str, token: str, stop: threading.Event, outcomes: dict[str, int]) -> None:
    inputs = [(name, build()) for name, build in FAMILIES.items()]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"}
    with httpx2.Client(base_url=base, timeout=120) as client:
        while not stop.is_set():
            for _, data in inputs:
                answer = client.post("/api/v1/messages", content=data, headers=headers)
                key = str(answer.status_code)
                outcomes[key] = outcomes.get(key, 0) + 1
                if stop.is_set():
                    return


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):6.2f} ms   p99 {percentile(values, 0.99):6.2f} ms   "
        f"max {max(values):7.2f} ms   ({len(values)} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        service = Service(Settings(url, Path(folder) / "blobs"))
        service.migrate()
        with service.unit() as session:
            tenant = accounts.create_organisation(session, "HOSTILE", "Hostile", "MANAGER")
            for number in range(USERS):
                accounts.add_user(session, tenant, f"user{number}", "", ["Staff"], PASSWORD)
        service.close()
        with serving(url, Path(folder) / "blobs", args.workers) as (base, pid):
            cores = os.cpu_count()
            print(f"server: mailfiler serve --workers {args.workers} on SQLite, {cores} cores")
            body = {"cloud_id": "HOSTILE", "username": "user0", "password": PASSWORD}
            token = httpx2.post(f"{base}/api/v1/session", json=body).json()["token"]

            resting = tree_rss(pid)
            peak, sampling = resting, threading.Event()

            def sample() -> None:
                nonlocal peak
                while not sampling.is_set():
                    peak = max(peak, tree_rss(pid))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            rights = [{**body, "username": f"user{n}"} for n in range(USERS)]
            started = time.perf_counter()
            with (
                ThreadPoolExecutor(32) as pool,
                httpx2.Client(base_url=base, timeout=120) as client,
            ):
                codes = list(
                    pool.map(lambda b: client.post("/api/v1/session", json=b).status_code, rights)
                )
            took = time.perf_counter() - started
            sampling.set()
            sampler.join()
            print(
                f"32 right sign-ins at once (Argon2 defaults): {codes.count(201)} signed in in "
                f"{took:.1f} s; server memory {resting / 2**20:.0f} MB at rest, "
                f"peak {peak / 2**20:.0f} MB (+{(peak - resting) / 2**20:.0f} MB)"
            )
            wrong = {**body, "username": "user1", "password": "a wrong guess"}
            with (
                ThreadPoolExecutor(32) as pool,
                httpx2.Client(base_url=base, timeout=120) as client,
            ):
                codes = list(
                    pool.map(
                        lambda _: client.post("/api/v1/session", json=wrong).status_code, range(32)
                    )
                )
            server_errors = sum(code >= 500 for code in codes)
            print(
                f"32 wrong passwords for one user at once: {codes.count(401)} checked (401), "
                f"{codes.count(429)} refused unchecked (429), {server_errors} 5xx"
            )

            quiet = health_latencies(base, 5)
            print(f"GET /healthz, nothing else running:          {summary(quiet)}")
            stop, outcomes = threading.Event(), {}
            readers = [
                threading.Thread(target=hostile_reads, args=(base, token, stop, outcomes))
                for _ in range(2)
            ]
            for reader in readers:
                reader.start()
            time.sleep(1)
            loaded = health_latencies(base, args.seconds)
            stop.set()
            for reader in readers:
                reader.join()
            print(f"GET /healthz, worst-case mail being read:    {summary(loaded)}")
            answered = dict(sorted(outcomes.items()))
            print(f"  the hostile reads were answered: {answered} (status: count)")

            print(
                f"server memory after the hostile reads: {tree_rss(pid) / 2**20:.0f} MB "
                "(reader processes that grew past 160 MB retired)"
            )


if __name__ == "__main__":
    main()
