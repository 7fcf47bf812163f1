"""Reading one hostile header, 1 KB to 1 MB: CPU time and peak memory of the reader.

    .venv/bin/python bench/headers.py [--sizes 1,10,100,1024]

Each kind of header in bench/hostile_mail.py is grown to each size (in KB)
and read by ``read_message`` -- the function every entry point's reader
process runs -- in a fresh process of its own, so its peak resident memory
is its own. Prints, per kind and size, the CPU seconds of the read, the
growth of the peak resident set during it (MB), and what the read gave
(addresses read, or the refusal). Linear reading shows as time and memory
growing 10x when the header grows 10x; the target is under 1 s of CPU and
under 100 MB at 1 MB.
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
    from mailfiler.core.contain import run_inline
    from mailfiler.core.read import read_message
    from mailfiler.errors import InvalidMessage

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.process_time()
    try:
        message = read_message(data, run_inline)
        outcome = f"read: {len(message.sender + message.to + message.cc)} addresses, " + (
            f"{len(message.attachments)} files, {len(message.notes)} notes"
        )
    except InvalidMessage as error:
        outcome = f"refused: {error}"
    cpu = time.process_time() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu": cpu,
        "peak_mb": (after.ru_maxrss - before.ru_maxrss) / 1024,
        "outcome": outcome[:90],
    }


def in_child(kind: str, size: int) -> dict[str, object]:
    answer = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(size)],
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
    args = parser.parse_args()
    if args.child:
        kind, size = args.child
        builders = {**HEADERS, **{k: (lambda _n, f=f: f()) for k, f in FAMILIES.items()}}
        data = builders[kind](int(size))
        print(json.dumps(measure(data)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'header':40} {'size':>8} {'CPU s':>7} {'peak MB':>8}  outcome")
    for kind in HEADERS:
        for size in sizes:
            result = in_child(kind, size * 1024)
            print(
                f"{kind:40} {size:>6}KB {result['cpu']:>7.3f} {result['peak_mb']:>8.1f}  "
                f"{result['outcome']}"
            )


if __name__ == "__main__":
    main()
