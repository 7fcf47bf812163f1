"""RFC 5322 §3.4 address lists, read in one pass: time and memory grow with the header's length.

The stdlib's parsers are the reference for what a list means, but not for
what it costs: ``email.utils.getaddresses`` reads nested comments by
recursion (a few hundred "(" end in ``RecursionError``), and the
``policy.default`` header parser rebuilds its token list as it goes (a 30 KB
line of quoted strings took 13 s; a 400 KB line of encoded words, 5 GB).
This reader scans the text once with possessive patterns (no backtracking),
keeps comment depth in a counter, and stops after ``ENTRIES_MAX`` entries.

It reads what the stdlib reads for every list the corpus holds and for
generated ones (tests/core/test_address_list.py), including the obsolete
forms RFC 5322 §4.4 still asks readers to accept: routes in angle brackets,
"." in display names, empty list members and comments anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

# More entries than any message is sent to; the rest of a longer line is left out
# (and the reader says so), so one header cannot cost more than this many.
ENTRIES_MAX: Final = 10_000

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]++)
    |(?P<quoted>"(?:[^"\\]++|\\.?)*+"?)
    |(?P<literal>\[(?:[^\[\]\\]++|\\.)*+\])
    |(?P<comment>\()
    |(?P<special>[<>@,;:.])
    |(?P<atom>[^ \t\r\n"(\[<>@,;:.]++)
    |(?P<stray>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Inside a comment only parentheses and backslashes mean anything (RFC 5322 §3.2.2).
_IN_COMMENT = re.compile(r"(?:[^()\\]++|\\.?)++|[()]", re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


@dataclass
class _Entry:
    """What one list member has shown so far."""

    phrase: list[str] = field(default_factory=list)  # display-name words, with spaces kept
    bare: list[str] = field(default_factory=list)  # the addr-spec, when there are no brackets
    angle: list[str] | None = None  # what is inside "<...>"
    comments: list[str] = field(default_factory=list)

    def add_word(self, text: str, raw: str, spaced: bool) -> None:
        if spaced and self.phrase:
            self.phrase.append(" ")
        self.phrase.append(text)
        self.bare.append(raw)

    def result(self) -> tuple[str, str] | None:
        comments = " ".join(c for c in self.comments if c)
        if self.angle is not None:
            address = "".join(self.angle)
            display = "".join(self.phrase).strip() or comments
        elif "@" in self.bare:
            address = "".join(self.bare)
            display = comments
        else:  # words that are no address at all ("undisclosed recipients")
            address = ""
            display = "".join(self.phrase).strip() or comments
        if not address and not display:
            return None  # an empty member: "a@x,,b@x" (RFC 5322 §4.4)
        return display, address


@dataclass
class AddressList:
    """(display name, address) pairs, and whether the list went on past ``ENTRIES_MAX``."""

    pairs: list[tuple[str, str]]
    cut: bool = False


def read_address_list(text: str) -> AddressList:
    """The members of one address header's value, groups flattened, in order."""
    pairs: list[tuple[str, str]] = []
    entry = _Entry()
    in_angle = in_group = spaced = False
    pos, end = 0, len(text)

    def finish() -> bool:
        nonlocal entry
        if entry.phrase or entry.comments or entry.angle is not None:
            found = entry.result()
            entry = _Entry()
            if found is not None:
                pairs.append(found)
        return len(pairs) >= ENTRIES_MAX

    while pos < end:
        token = _TOKEN.match(text, pos)
        assert token is not None  # every character starts one of the alternatives (stray)
        part, value = token.lastgroup, token.group()
        pos = token.end()
        if part == "space":
            spaced = True
            continue
        if part == "comment":
            comment, pos = _comment(text, pos)
            entry.comments.append(comment)
            spaced = True
            continue
        if in_angle:
            assert entry.angle is not None
            if value == ">":
                in_angle = False
            elif value == "," and not _route_goes_on(text, pos):
                in_angle = False  # "<a@x, b@x": the bracket was never closed
                if finish():
                    return AddressList(pairs, cut=_more_follows(text, pos))
            elif value == ":" and entry.angle[:1] == ["@"]:
                entry.angle = []  # the end of an obsolete route: "<@relay,@relay2:a@x>"
            elif value != "<":
                entry.angle.append(value)
        elif value == "<":
            in_angle = True
            entry.angle = []
        elif value == ">":
            pass  # a stray closing bracket means nothing
        elif value == "," or (value == ";" and in_group):
            in_group = in_group and value != ";"
            if finish():
                return AddressList(pairs, cut=_more_follows(text, pos))
        elif value == ":" and not in_group and entry.angle is None:
            in_group = True  # "Team: a@x, b@x;" -- the group's name is not an address
            entry = _Entry()
        elif part == "quoted":
            inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
            entry.add_word(_QUOTED_PAIR.sub(r"\1", inner), value, spaced)
        else:
            entry.add_word(value, value, spaced and value != ".")
        spaced = False
    finish()
    return AddressList(pairs)


def _comment(text: str, pos: int) -> tuple[str, int]:
    """A comment's text (nested ones kept with their parentheses) and where it ends."""
    depth, pieces, end = 1, [], len(text)
    while pos < end:
        piece = _IN_COMMENT.match(text, pos)
        assert piece is not None
        value = piece.group()
        pos = piece.end()
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
            if depth == 0:
                break
        else:
            value = _QUOTED_PAIR.sub(r"\1", value)
        pieces.append(value)
    return "".join(pieces), pos


def _route_goes_on(text: str, pos: int) -> bool:
    """After a "," inside brackets: does an obsolete route continue ("<@a,@b:x@y>")?"""
    following = _TOKEN.match(text, pos)
    while following is not None and following.lastgroup == "space":
        following = _TOKEN.match(text, following.end())
    return following is not None and following.group() == "@"


def _more_follows(text: str, pos: int) -> bool:
    return bool(text[pos:].strip(" \t\r\n,;"))
