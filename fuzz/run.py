"""Run the reader's fuzzer: seeded from ../shared/corpus and tests/fixtures, crashes kept.

    .venv/bin/python fuzz/run.py --seconds 3600          # make fuzz: an hour, new inputs kept
    .venv/bin/python fuzz/run.py --runs 3000 --seed 1    # the short round make test runs

The corpus is read where it is (never copied): a folder of links to its
files is made in the work folder. Inputs the fuzzer finds interesting go to
``.fuzz/corpus`` (or ``--work``), crashes and slow inputs to ``.fuzz/crashes``.
Exits 0 when nothing was found; otherwise libFuzzer's status, having printed
the input's file name and stack.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
HARNESS = Path(__file__).with_name("read_message.py")

# Real files whose third-party parser (extract_msg, reading 1 300 recipients
# from an OLE directory of 18 000 entries) alone takes over the per-input time
# limit: not a finding about mailfiler. In production it is read, within the
# reader's limits.
# So are two messages whose RTF body RTFDE's lark grammar de-encapsulates: about 1 s each
# uninstrumented, 2-3 s under the fuzzer's instrumentation on a loaded machine.
SLOW_BY_NATURE = {
    "lots-of-recipients.msg",
    "keywords.msg",
    "clusterfuzz-testcase-minimized-POIHSMFFuzzer-4848576776503296.msg",
}

TIMEOUT = 2  # seconds an input may take: any more is a finding (make fuzz)
MAX_LENGTH = 1024 * 1024


def seed_folder(work: Path) -> Path:
    """A folder of links to every seed file (the corpus and our own fixtures)."""
    seeds = work / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for old in seeds.iterdir():
        old.unlink()
    sources = [p for p in (CORPUS, FIXTURES) if p.is_dir()]
    for number, path in enumerate(
        sorted(p for source in sources for p in source.rglob("*") if p.is_file())
    ):
        if path.name not in SLOW_BY_NATURE and path.suffix != ".csv":
            (seeds / f"{number:04d}-{path.name}").symlink_to(path)
    return seeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, help="run this long")
    parser.add_argument("--runs", type=int, help="run this many inputs")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's seed (0: random)")
    parser.add_argument("--work", type=Path, default=ROOT / ".fuzz", help="where inputs go")
    parser.add_argument(
        "--timeout", type=int, default=TIMEOUT, help="seconds an input may take (wall clock)"
    )
    parser.add_argument(
        "--cpu-seconds", type=float, default=0,
        help="seconds of CPU an input may take (for a busy machine; the wall clock then "
        "only catches a hang)",
    )  # fmt: skip
    args = parser.parse_args()
    found = args.work / "corpus"
    crashes = args.work / "crashes"
    found.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    options = [
        f"-timeout={args.timeout}",
        f"-max_len={MAX_LENGTH}",
        "-rss_limit_mb=3072",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
    ]
    if args.seed:
        options.append(f"-seed={args.seed}")
    if args.runs is not None:
        options.append(f"-runs={args.runs}")
    if args.seconds is not None:
        options.append(f"-max_total_time={args.seconds}")
    command = [sys.executable, str(HARNESS), *options, str(found), str(seed_folder(args.work))]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    if args.cpu_seconds:
        environment["MAILFILER_FUZZ_CPU_SECONDS"] = str(args.cpu_seconds)
    return subprocess.run(command, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
