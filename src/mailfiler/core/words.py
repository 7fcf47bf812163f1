"""Sentences as people read them.

Reasons and notes are written in lower case where they are made (so that one
can be put inside another: "not saved: iMIS answered 500"); where they reach
a person (the API's answers, the command line), each starts with a capital.
"""

from __future__ import annotations


def sentence(text: str) -> str:
    """``text`` starting with a capital letter (the rest as it is); a first word with a
    capital of its own inside ("iMIS") is a name, and stays as it is written."""
    first = text.split(" ", 1)[0]
    if any(letter.isupper() for letter in first[1:]):
        return text
    return text[:1].upper() + text[1:]
