"""How long the command line takes to start: `mailfiler --help` and friends, and what it imports.

    .venv/bin/python bench/cli_startup.py [--runs 10]

Runs the installed command (``.venv/bin/mailfiler``) as a user would, ``--runs``
times each, and prints the median wall-clock seconds of commands that need
no database (target, issue 11: under 0.3 s) beside one that opens one
(``users list`` on a fresh SQLite file). Then prints the ten slowest imports
of ``import mailfiler.cli`` by ``python -X importtime`` (cumulative
microseconds), so a module that starts loading the web or database stack
again shows at once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = str(Path(sys.executable).parent / "mailfiler")


def seconds(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([COMMAND, *args], capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def slowest_imports(count: int = 10) -> list[tuple[int, str]]:
    found = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mailfiler.cli"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    rows = []
    for line in found.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        subprocess.run(
            [COMMAND, "--db", database, "init", "--cloud-id", "B", "--name", "B"],
            capture_output=True, check=True,
        )  # fmt: skip
        for label, command in [
            ("mailfiler --help", ["--help"]),
            ("mailfiler file --help", ["file", "--help"]),
            ("mailfiler options set --help", ["options", "set", "--help"]),
            ("mailfiler users list (opens the database)", ["--db", database, "users", "list",
                                                          "--cloud-id", "B"]),
        ]:  # fmt: skip
            print(f"{label:<44} median {seconds(command, args.runs):.3f} s ({args.runs} runs)")
    print("\nthe slowest imports of `import mailfiler.cli` (cumulative, microseconds):")
    for micros, name in slowest_imports():
        print(f"  {micros:>9}  {name}")


if __name__ == "__main__":
    main()
