from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailfiler.core import compose
from mailfiler.core.compose import eml_bytes, eml_filename
from mailfiler.core.headers import one_line
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.core.mime import read_rfc5322
from mailfiler.errors import InvalidMessage


def test_a_message_that_was_not_rfc5322_is_written_as_a_readable_eml() -> None:
    message = Message(
        subject="Plan: Q1/Q2",
        sender=(Address("ann@example.org", "Ann Ärcher"),),
        to=(Address("bob@example.org"),),
        bcc=(Address("carl@example.org"),),
        date=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        message_id="<plan@example.org>",
        body=(BodyPart(html="<p>Hi</p>", text="Hi"),),
        attachments=(Attachment("notes.txt", "text/plain", b"line\r\nline2"),),
        format="msg",
    )
    data = eml_bytes(message)
    back = read_rfc5322(data)
    assert back.subject == "Plan: Q1/Q2"
    assert back.sender[0].name == "Ann Ärcher"
    assert [a.address for a in back.bcc] == ["carl@example.org"]
    assert back.attachments[0].data == b"line\r\nline2"
    assert back.body[0].html and "<p>Hi</p>" in back.body[0].html
    assert email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]
    assert eml_filename(message) == "Plan_ Q1_Q2.eml"


def test_an_rfc5322_message_is_saved_exactly_as_it_came() -> None:
    raw = b"From: a@example.org\nSubject: x\n\nbody\n"
    assert eml_bytes(read_rfc5322(raw)) == raw


def test_addresses_outside_ascii_are_written_as_they_are() -> None:
    message = Message(
        subject="Grüße",
        sender=(Address("jörg@bücher.example", 'Jörg "JJ" Müller'),),
        to=(Address("carla@bücher.example"), Address("bob@example.org", "Smith, Bob")),
        body=(BodyPart(text="Hallo"),),
        format="composed",
    )
    back = read_rfc5322(eml_bytes(message))
    assert [(a.address, a.name) for a in back.sender] == [
        ("jörg@bücher.example", 'Jörg "JJ" Müller')
    ]
    assert [(a.address, a.name) for a in back.to] == [
        ("carla@bücher.example", ""),
        ("bob@example.org", "Smith, Bob"),
    ]


# Any text at all, lone surrogates included (a damaged .msg string can hold them).
ANY_TEXT = st.text(st.characters(exclude_categories=()) | st.sampled_from("\ud800\udfff\x00\r"))


@settings(max_examples=300, deadline=None)
@given(
    subject=ANY_TEXT,
    name=ANY_TEXT,
    message_id=ANY_TEXT,
    text_body=ANY_TEXT,
    filename=ANY_TEXT,
    content_type=ANY_TEXT,
    content_id=st.none() | ANY_TEXT,
    data=st.binary(),
)
def test_whatever_a_msg_or_a_composer_says_the_eml_is_written(
    subject: str,
    name: str,
    message_id: str,
    text_body: str,
    filename: str,
    content_type: str,
    content_id: str | None,
    data: bytes,
) -> None:
    message = Message(
        subject=subject,
        sender=(Address("ann@example.org", name),),
        to=(Address("bob@example.org"),),
        message_id=message_id,
        body=(BodyPart(text=text_body, html=f"<p>{text_body}</p>"),),
        attachments=(Attachment(filename, content_type, data, content_id),),
        format="msg",
    )
    back = read_rfc5322(eml_bytes(message))
    assert [a.data for a in back.attachments] == [data]
    assert back.sender[0].address == "ann@example.org"


# Addresses of any shape: dots anywhere, quotes, brackets, comments, spaces, text
# that looks like an encoded word. Lone surrogates are left to ANY_TEXT's names.
ODD_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('."\\()<>,;:@[] =?'), max_size=30)
# Dots where RFC 5322 puts none (".archer@x", "a..b@x"): still one address, which
# the stdlib's header parser read as a display name and failed on (finding 9).
DOTTED_ADDRESS = re.compile(r"[.a-zÿ]{1,30}@[.a-z]{1,12}")
DOTTED = st.from_regex(DOTTED_ADDRESS, fullmatch=True)
ADDRESS_LINE = st.lists(
    st.builds(Address, DOTTED | st.builds("{}@{}".format, ODD_TEXT, ODD_TEXT) | ODD_TEXT, ANY_TEXT),
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(sender=ADDRESS_LINE, to=ADDRESS_LINE, cc=ADDRESS_LINE, bcc=ADDRESS_LINE)
@example(
    sender=[Address("jdoe@acme.example", "Jane Doe")],
    to=[Address("bob@members.example", "Bob")],
    cc=[Address("Ann" + "ÿ" * 26 + ".archer@work.example"), Address(".archer@work.example")],
    bcc=[],
)
def test_whatever_the_addresses_hold_the_eml_is_written_and_reads_back_as_them(
    sender: list[Address], to: list[Address], cc: list[Address], bcc: list[Address]
) -> None:
    message = Message(
        subject="x",
        sender=tuple(sender),
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        body=(BodyPart(text="x"),),
        format="composed",
    )
    back = read_rfc5322(eml_bytes(message))
    for line, read in ((sender, back.sender), (to, back.to), (cc, back.cc), (bcc, back.bcc)):
        asked = [one_line(a.address) for a in line]  # on one line, trimmed, as a reader reads it
        written = [a.address for a in read]
        # Nothing invented: an address is written as given, or left out ...
        assert set(written) <= set(asked)
        # ... and one with its dots out of place is written, whatever its name.
        assert [a for a in asked if DOTTED_ADDRESS.fullmatch(a)] == [
            a for a in written if DOTTED_ADDRESS.fullmatch(a)
        ]


def test_a_message_the_generator_cannot_write_at_all_is_a_clear_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No message is known to get here (the test above looks for one): should
    # the stdlib fail on both passes, the sender is told, and it is never a 500.
    def fails(message: Message, plain: bool = False) -> bytes:
        raise TypeError("'ValueTerminal' object does not support item assignment")

    monkeypatch.setattr(compose, "_compose", fails)
    with pytest.raises(InvalidMessage, match=r"cannot be written as an \.eml file \(TypeError\)"):
        eml_bytes(Message(subject="x", format="composed"))
