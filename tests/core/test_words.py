"""The words a save is said in, made once on the server (core/words.py)."""

from __future__ import annotations

from mailfiler.core.rules import listed
from mailfiler.core.words import save_summary, status_words


def test_a_save_is_summed_up_with_what_was_not_saved_counted_once() -> None:
    statuses = ["saved", "saved", "duplicate", "failed", "unsure"]
    assert save_summary(statuses, lines_not_filed=2) == (
        "2 saved, 1 already saved, 1 to check, 3 not saved"
    )
    assert save_summary(["partial"], 0) == "0 saved, 1 saved without some files, 0 not saved"


def test_yourself_is_listed_only_on_to_or_cc() -> None:
    assert listed("to", is_self=True) and listed("cc", is_self=True)
    assert not listed("from", is_self=True) and not listed("bcc", is_self=True)
    assert listed("from", is_self=False)


def test_already_saved_says_as_what() -> None:
    assert status_words("duplicate", "activity") == ("already saved as Activity", "warn")
