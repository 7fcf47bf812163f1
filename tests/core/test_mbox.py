from __future__ import annotations

from mailfiler.core.mbox import is_mbox, split_mbox
from tests.conftest import corpus_path


def test_an_mbox_splits_into_its_messages_as_the_reference_split_says() -> None:
    folder = corpus_path() / "james-mime4j" / "mbox"
    entries = split_mbox((folder / "mbox.rlug").read_bytes())
    assert len(entries) == 5
    for number, entry in enumerate(entries):
        expected = (folder / f"mbox.rlug-{number}").read_bytes()
        # The reference split drops the "From " line.
        assert entry.split(b"\n", 1)[1].rstrip(b"\n") == expected.rstrip(b"\n")


def test_quoted_from_lines_are_unquoted_and_single_messages_untouched() -> None:
    mbox = (
        b"From a@b Mon Jan 1 00:00:00 2026\nSubject: one\n\n>From the start\n\n"
        b"From c@d x\nSubject: two\n\nbody\n"
    )
    first, second = split_mbox(mbox)
    assert b"\nFrom the start" in first and first.endswith(b"start\n")
    assert second.startswith(b"From c@d")
    assert not is_mbox(b"Subject: x\n\n")
