"""A short, deterministic round of the reader's fuzzer (fuzz/run.py); ``make fuzz`` runs an hour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, corpus_path


def test_a_fixed_round_of_fuzzing_finds_no_crash_and_no_slow_input(tmp_path: Path) -> None:
    corpus_path()  # seeded from the shared corpus: required under CI
    finished = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--runs", "3000", "--seed", "1",
         "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    report = finished.stdout[-3000:] + finished.stderr[-6000:]
    assert finished.returncode == 0, report
    assert "stat::number_of_executed_units: 3000" in finished.stderr, report
    assert not list((tmp_path / "crashes").iterdir()), report
