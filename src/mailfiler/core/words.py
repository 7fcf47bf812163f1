"""Sentences as people read them.

Reasons and notes are written in lower case where they are made (so that one
can be put inside another: "not saved: iMIS answered 500"); where they reach
a person (the API's answers, the command line), each starts with a capital.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict


def sentence(text: str) -> str:
    """``text`` starting with a capital letter (the rest as it is); a first word with a
    capital of its own inside ("iMIS") is a name, and stays as it is written."""
    first = text.split(" ", 1)[0]
    if any(letter.isupper() for letter in first[1:]):
        return text
    return text[:1].upper() + text[1:]


# -- what a status says --------------------------------------------------------------------

# The tone a status is shown in: good (green), warn (amber), bad (red), or plain.
Tone = Literal["good", "warn", "bad", "plain"]

# Every status of a contact, a file or a record, as people read it, with its tone. Defined
# here once: the API sends both with each outcome, and the pane, the staff site and the
# command line keep no map of their own.
STATUS_WORDS: Final[dict[str, tuple[str, Tone]]] = {
    "would_save": ("will be saved", "good"),
    "saved": ("saved", "good"),
    "duplicate": ("already saved", "warn"),
    "partial": ("saved without a file", "warn"),
    "ambiguous": ("shared address", "warn"),
    "unsure": ("needs checking", "bad"),
    "no_contact": ("no contact", "bad"),
    "not_permitted": ("not permitted", "bad"),
    "over_limit": ("over the limit", "bad"),
    "failed": ("not saved", "bad"),
    "excluded": ("left out", "plain"),
    "empty": ("empty file", "plain"),
    "in_eml": ("in the .eml file", "plain"),
}
KIND_NAMES: Final[dict[str, str]] = {"interaction": "Interaction", "activity": "Activity"}
# The editions of the add-in, as the Options screen offers them.
EDITION_NAMES: Final[dict[str, str]] = {
    "enterprise": "Enterprise",
    "professional": "Professional (no Activities)",
}


# A contact's outcome that means the record is there (partial: without a file) or may be.
FILED_STATUSES: Final = ("saved", "duplicate", "would_save", "partial", "unsure")


def save_summary(statuses: list[str], lines_not_filed: int) -> str:
    """A save in one line: "2 saved, 1 already saved, 1 not saved". ``statuses``: each
    contact's outcome; ``lines_not_filed``: the lines of the message no record was for."""
    count = statuses.count
    not_saved = lines_not_filed + sum(1 for s in statuses if s not in FILED_STATUSES)
    parts = [
        f"{count('saved')} saved",
        f"{count('duplicate')} already saved" if count("duplicate") else "",
        f"{count('partial')} saved without some files" if count("partial") else "",
        f"{count('unsure')} to check" if count("unsure") else "",
        f"{not_saved} not saved",
    ]
    return ", ".join(p for p in parts if p)


def status_words(status: str, kind: str | None = None) -> tuple[str, Tone]:
    """A status's words and tone; "already saved" says as what when the kind is known."""
    label, tone = STATUS_WORDS.get(status, (status.replace("_", " "), "plain"))
    if status == "duplicate" and kind in KIND_NAMES:
        label = f"already saved as {KIND_NAMES[kind]}"
    return label, tone


class Said(TypedDict):
    label: str
    tone: Tone


def said(status: str, kind: str | None = None) -> Said:
    """A status's words and tone, as the API and the reports send them beside it."""
    label, tone = status_words(status, kind)
    return {"label": label, "tone": tone}


# A record that needs someone, as "Records to check" says it: what it may be, and what
# happens next.
TO_CHECK_WORDS: Final[dict[str, str]] = {
    "unsure": "may not be in the CRM: check it",
    "failed": "not saved: the next save writes it",
    "partial": "saved without some files: the next save sends them",
}


def said_to_check(status: str) -> Said:
    """A record to check's status in words, with its tone."""
    label, tone = status_words(status)
    return {"label": TO_CHECK_WORDS.get(status, label), "tone": tone}
