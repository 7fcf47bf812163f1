"""Every input the fuzzer ever found to crash or stall the reader, read as production reads it.

Each file in tests/fixtures/fuzz/ is one finding (its name says what it
broke); fuzz/read_message.py says how they are found. Each must read into a
message whose bodies and .eml can be made, or be refused with a sentence.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from mailfiler.core.body import activity_body, interaction_body
from mailfiler.core.compose import eml_bytes
from mailfiler.errors import InvalidMessage
from mailfiler.service.reader_worker import read

FINDS = sorted((Path(__file__).parents[1] / "fixtures" / "fuzz").iterdir())


@pytest.mark.parametrize("path", FINDS, ids=lambda p: p.name)
def test_a_finding_of_the_fuzzer_reads_or_is_refused_with_a_reason(path: Path) -> None:
    started = time.process_time()
    try:
        message = read(path.read_bytes())
    except InvalidMessage as error:
        reason = str(error)
    else:
        reason = ""
    if reason:
        assert "Traceback" not in reason
        assert "time limit" not in reason  # refused for what it is, not after a stall
        assert time.process_time() - started < 2
        return
    interaction_body(message)
    activity_body(message)
    assert eml_bytes(replace(message, original=None))
