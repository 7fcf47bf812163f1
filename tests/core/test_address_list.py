"""The one-pass address-list reader: what the stdlib reads, without its worst cases."""

from __future__ import annotations

import email
import email.policy
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailfiler.core.address_list import ENTRIES_MAX, read_address_list
from tests.conftest import CORPUS, corpus_path

_ATOMS = st.text(st.sampled_from(list("abcXYZ0'-+_=?")), min_size=1, max_size=6)
_PHRASE_TEXT = st.text(st.sampled_from(list("abc XYZ,.;:<>@()é")), min_size=1, max_size=12)


@st.composite
def entries(draw: st.DrawFn) -> tuple[str, tuple[str, str]]:
    """An address-list member as written, and the (name, address) it means."""
    local = ".".join(draw(st.lists(_ATOMS, min_size=1, max_size=2)))
    domain = ".".join(draw(st.lists(_ATOMS, min_size=1, max_size=3)))
    address = f"{local}@{domain}"
    form = draw(st.sampled_from(["bare", "atoms", "quoted", "comment"]))
    if form == "bare":
        return address, ("", address)
    if form == "atoms":
        name = " ".join(draw(st.lists(_ATOMS, min_size=1, max_size=3)))
        return f"{name} <{address}>", (name, address)
    if form == "quoted":
        name = draw(_PHRASE_TEXT).strip() or "x"
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address}>', (name, address)
    name = draw(_ATOMS)
    return f"{address} ({name})", (name, address)


@settings(max_examples=400)
@given(st.lists(entries(), min_size=1, max_size=8), st.sampled_from([",", ", ", " ,\r\n\t"]))
def test_lists_read_as_written_and_as_the_stdlib_reads_them(
    members: list[tuple[str, tuple[str, str]]], comma: str
) -> None:
    raw = comma.join(written for written, _ in members)
    meant = [pair for _, pair in members]
    assert read_address_list(raw).pairs == meant
    assert getaddresses([raw]) == meant


def test_groups_routes_and_empty_members_are_read_as_rfc_5322_4_4_asks() -> None:
    read = read_address_list(
        'Team: "Smith, J" <j@x.org>, ann@x.org;, <@relay.example,@b.example:bob@x.org>,, '
        "undisclosed-recipients:;"
    )
    assert read.pairs == [("Smith, J", "j@x.org"), ("", "ann@x.org"), ("", "bob@x.org")]


def test_a_bracket_left_open_ends_at_the_next_comma() -> None:
    assert read_address_list("<a@x.org, b@x.org").pairs == [("", "a@x.org"), ("", "b@x.org")]


def test_comments_nested_thousands_deep_are_read_without_recursion() -> None:
    raw = "ann@x.org " + "(" * 50_000 + "deep" + ")" * 50_000 + ", bob@x.org"
    pairs = read_address_list(raw).pairs
    assert [address for _, address in pairs] == ["ann@x.org", "bob@x.org"]
    # ... where the stdlib's reader recurses once per level.
    with pytest.raises(RecursionError):
        getaddresses([raw])


def test_a_comment_left_open_swallows_the_rest_of_the_line() -> None:
    assert read_address_list("ann@x.org (never closed, bob@x.org").pairs == [
        ("never closed, bob@x.org", "ann@x.org")
    ]


def test_words_that_are_no_address_are_kept_as_words() -> None:
    assert read_address_list('"q0" "q1" q2').pairs == [("q0 q1 q2", "")]


def test_a_list_stops_after_its_limit_and_says_so() -> None:
    raw = ", ".join(f"m{i}@x.org" for i in range(ENTRIES_MAX + 5))
    read = read_address_list(raw)
    assert len(read.pairs) == ENTRIES_MAX and read.cut
    exact = read_address_list(", ".join(f"m{i}@x.org" for i in range(ENTRIES_MAX)) + ",")
    assert len(exact.pairs) == ENTRIES_MAX and not exact.cut


def _corpus_messages() -> list[Path]:
    if not CORPUS.is_dir():
        return [CORPUS / "missing"]
    return [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and "apache-poi" not in p.parts]


@pytest.mark.parametrize(
    "path", _corpus_messages(), ids=lambda p: p.name if CORPUS.is_dir() else "x"
)
def test_every_corpus_address_line_reads_as_the_stdlib_reads_it(path: Path) -> None:
    corpus_path()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    for name in ("from", "to", "cc", "bcc", "reply-to", "sender"):
        for raw in message.get_all(name) or []:
            if not isinstance(raw, str) or "(" in raw:
                continue  # a comment: the stdlib keeps fewer parentheses of nested ones
            raw = raw.replace("\r", "").replace("\n", "")  # unfolded (RFC 5322 §2.2.3)
            reference = email.policy.default.header_factory(name, raw)
            if reference.defects:
                continue  # the stdlib reads it as broken; what we read is tested elsewhere
            expected = [a.addr_spec for a in reference.addresses if "@" in a.addr_spec]
            ours = [address for _, address in read_address_list(raw).pairs if "@" in address]
            assert ours == expected, raw
