"""Coverage-guided fuzzing of the message reader (atheris, libFuzzer underneath).

    .venv/bin/python fuzz/read_message.py [libFuzzer options] WORK_DIR SEED_DIR...

``make fuzz`` runs it for an hour, seeded from ../shared/corpus; ``make test``
runs a short deterministic round (tests/test_fuzz.py). Every input must end
as a ``Message`` or an ``InvalidMessage`` with a sentence: any other
exception is a crash, and libFuzzer writes the input that caused it to
``-artifact_prefix``. Inputs that take over ``-timeout`` seconds are crashes
too. Each crash found becomes a file in tests/fixtures/fuzz/, read by
tests/core/test_fuzz_finds.py from then on.

Inputs are read exactly as a reader worker reads them in production
(``reader_worker.read``): Outlook and TNEF files by their third-party
parsers in a child process under limits, whose failures become
``InvalidMessage``.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import replace

import atheris

with atheris.instrument_imports(include=["mailfiler", "email"]):
    from mailfiler.core.body import activity_body, interaction_body
    from mailfiler.core.compose import eml_bytes
    from mailfiler.errors import InvalidMessage
    from mailfiler.service.reader_worker import read


# Seconds of CPU an input may take, this process and the reader's child together (0: only
# libFuzzer's wall-clock -timeout judges). Unlike the wall clock, it does not grow when the
# machine is busy with other work (make test runs this beside the whole suite).
CPU_LIMIT = float(os.environ.get("MAILFILER_FUZZ_CPU_SECONDS") or 0)


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def one_input(data: bytes) -> None:
    before = _cpu()
    try:
        _read(data)
    finally:
        spent = _cpu() - before
        if CPU_LIMIT and spent > CPU_LIMIT:
            raise AssertionError(f"a slow input: {spent:.1f} s of CPU (limit {CPU_LIMIT} s)")


def _read(data: bytes) -> None:
    try:
        message = read(data)
    except InvalidMessage as error:
        if not str(error) or "Traceback" in str(error):
            raise AssertionError(f"a refusal without a sentence: {error!r}") from error
        return
    # What a save derives from a message must not fail either: its bodies, its
    # key, and the .eml written for it (as for an Outlook or composed message).
    interaction_body(message)
    activity_body(message)
    eml_bytes(replace(message, original=None))
    assert message.key


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
