from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mailfiler.core.compose import eml_bytes, eml_filename
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.core.mime import read_rfc5322


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
