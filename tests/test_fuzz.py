"""A short, deterministic round of the reader's fuzzer (fuzz/run.py); ``make fuzz`` runs an hour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, corpus_path

# The per-input limit of this round, in CPU seconds (the harness counts its own and the
# reader child's): its wall clock is shared with the rest of the suite on two cores, where
# an input make fuzz reads in under 2 s took 14. The wall clock only catches a hang.
CPU_SECONDS = 2.5
HANG = 120


def test_a_fixed_round_of_fuzzing_finds_no_crash_and_no_slow_input(tmp_path: Path) -> None:
    corpus_path()  # seeded from the shared corpus: required under CI
    finished = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--runs", "3000", "--seed", "1",
         "--work", str(tmp_path), "--timeout", str(HANG), "--cpu-seconds", str(CPU_SECONDS)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    report = finished.stdout[-3000:] + finished.stderr[-6000:]
    assert finished.returncode == 0, report
    assert "stat::number_of_executed_units: 3000" in finished.stderr, report
    assert not list((tmp_path / "crashes").iterdir()), report
