"""The quick reading of plain address lists agrees with the stdlib's parser."""

from __future__ import annotations

from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from mailfiler.core.headers import _plain_list

# Letters, atom symbols, and the characters that make an entry not plain.
_CHARS = st.sampled_from(list("abcXYZéü0'-+_=?.@<>\"(),;: \t\\\r\n"))
_ATOMS = st.text(st.sampled_from(list("abcXYZéü0'-+_=?")), min_size=1, max_size=6)


@st.composite
def plain_entries(draw: st.DrawFn) -> str:
    local = ".".join(draw(st.lists(_ATOMS, min_size=1, max_size=2)))
    domain = ".".join(draw(st.lists(_ATOMS, min_size=1, max_size=3)))
    name = draw(st.sampled_from([" ", "  ", "\t"])).join(draw(st.lists(_ATOMS, max_size=3)))
    gap = draw(st.sampled_from(["", " ", "  ", "\r\n\t"]))
    return f"{gap}{name} <{local}@{domain}>{gap}" if name else f"{gap}{local}@{domain}"


@settings(max_examples=400)
@given(st.lists(plain_entries(), min_size=1, max_size=8))
def test_plain_lists_read_as_the_stdlib_reads_them(entries: list[str]) -> None:
    raw = ",".join(entries)
    assert _plain_list(raw) == getaddresses([raw])


@settings(max_examples=600)
@given(st.lists(_CHARS, max_size=40).map("".join))
def test_anything_read_quickly_is_read_as_the_stdlib_reads_it(raw: str) -> None:
    quick = _plain_list(raw)
    if quick is not None:
        assert quick == getaddresses([raw])


def test_lists_with_quotes_comments_or_groups_are_left_to_the_full_parser() -> None:
    for raw in [
        '"Smith, J" <j@x.org>',
        "j@x.org (Jay)",
        "team: a@x.org, b@x.org;",
        "J. Smith <j@x>",
    ]:
        assert _plain_list(raw) is None
