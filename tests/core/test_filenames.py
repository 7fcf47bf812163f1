from __future__ import annotations

from mailfiler.core.filenames import clean_filename, default_filename, safe_name, shorten, unique


def test_names_are_shortened_to_fifty_keeping_the_extension() -> None:
    name = "A" * 60 + ".pdf"
    assert shorten(name) == "A" * 46 + ".pdf"
    assert len(shorten("x" * 80)) == 50
    assert shorten("short.txt") == "short.txt"
    # An "extension" longer than ten characters is part of the name.
    assert shorten("report." + "v" * 60) == ("report." + "v" * 60)[:50]


def test_names_are_made_safe_and_unique() -> None:
    assert clean_filename("C:\\Users\\ann\\report.pdf") == "report.pdf"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert safe_name("Re: a/b: plan?") == "Re_ a_b_ plan_"
    assert unique(["a.txt", "A.txt", "a.txt"]) == ["a.txt", "A (2).txt", "a (3).txt"]
    assert default_filename("application/pdf", 3) == "attachment-3.pdf"
    assert default_filename("message/delivery-status", 1) == "delivery-status-1.txt"
