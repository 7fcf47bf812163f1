"""What hostile mail costs the reader: CPU seconds and peak memory, input by input.

    .venv/bin/python bench/hostile_reading.py [--sizes 1,10,100,1024]

Every input is read by ``reader_worker.read`` -- what a reader process of
the server and the CLI runs for each message (Outlook and TNEF parsers in a
further child, as there) -- in a fresh process of its own, so the peak
resident memory measured is the read's own. Prints:

1. each kind of header in bench/hostile_mail.py grown to each size (KB):
   linear reading shows as time and memory growing 10x when the header grows
   10x; the target (issue 9) is under 1 s of CPU and under 100 MB at 1 MB;
2. the worst input of each hostile family (issue 9's list, and the corpus's
   oom.tnef): CPU seconds (the read's process and its children) and peak
   memory growth (of whichever process grew most);
3. for comparison in the same run, the stdlib's RFC 5322 address parser
   (``policy.default``, what read such lines before) on the two address
   headers that were quadratic, up to 100 KB (1 MB would take minutes).

CPU is the process's user + system time; memory is the growth of the peak
resident set (ru_maxrss) during the read, children counted apart.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.hostile_mail import FAMILIES, HEADERS  # noqa: E402


def measure(data: bytes) -> dict[str, object]:
    """Read ``data`` here; CPU seconds, peak RSS growth and the outcome."""
    from mailfiler.errors import InvalidMessage
    from mailfiler.service.reader_worker import read

    before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.process_time()
    try:
        message = read(data)
        outcome = f"read: {len(message.sender + message.to + message.cc)} addresses, " + (
            f"{len(message.attachments)} files, {len(message.notes)} notes"
        )
    except InvalidMessage as error:
        outcome = f"refused: {error}"
    cpu = time.process_time() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return {
        "cpu": cpu,
        "peak_mb": max(after.ru_maxrss - before.ru_maxrss, children.ru_maxrss) / 1024,
        "outcome": outcome[:90],
    }


def reference(data: bytes) -> dict[str, object]:
    """The stdlib's parser on the grown header of ``data`` (its longest line)."""
    from email import policy

    longest = max(data.split(b"\r\n"), key=len)
    name, _, value = longest.decode().partition(": ")
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.process_time()
    found = policy.default.header_factory(name, value).addresses
    cpu = time.process_time() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = (after.ru_maxrss - before.ru_maxrss) / 1024
    return {"cpu": cpu, "peak_mb": peak, "outcome": f"{len(found)} addresses"}


def in_child(kind: str, size: int, how: str = "--child") -> dict[str, object]:
    answer = subprocess.run(
        [sys.executable, __file__, how, kind, str(size)],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, object] = json.loads(answer.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100,1024", help="header sizes in KB")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--stdlib", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.stdlib:
        kind, size = args.child or args.stdlib
        builders = {**HEADERS, **{k: (lambda _n, f=f: f()) for k, f in FAMILIES.items()}}
        data = builders[kind](int(size))
        print(json.dumps(measure(data) if args.child else reference(data)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'one header of this kind':40} {'size':>8} {'CPU s':>7} {'peak MB':>8}  outcome")
    for kind in HEADERS:
        for size in sizes:
            result = in_child(kind, size * 1024)
            print(
                f"{kind:40} {size:>6}KB {result['cpu']:>7.3f} {result['peak_mb']:>8.1f}  "
                f"{result['outcome']}"
            )
    print()
    print(f"{'the worst input of each family':49} {'CPU s':>7} {'peak MB':>8}  outcome")
    for family in FAMILIES:
        result = in_child(family, 0)
        print(f"{family:49} {result['cpu']:>7.3f} {result['peak_mb']:>8.1f}  {result['outcome']}")
    print()
    print(f"{'the stdlib parser, the same header':40} {'size':>8} {'CPU s':>7} {'peak MB':>8}")
    for kind in ("To: quoted strings", "From: encoded words"):
        for size in (1, 10, 30, 100):
            result = in_child(kind, size * 1024, "--stdlib")
            print(f"{kind:40} {size:>6}KB {result['cpu']:>7.3f} {result['peak_mb']:>8.1f}")


if __name__ == "__main__":
    main()
