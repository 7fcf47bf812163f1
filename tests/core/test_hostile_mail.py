"""Mail written to break a reader: every case reads, with a note, or is refused with a reason."""

from __future__ import annotations

import pytest

from mailfiler.core.mime import read_rfc5322
from mailfiler.core.mime_params import CONTENT_ID_MAX, UNKNOWN_TYPE
from mailfiler.errors import InvalidMessage


def _message(headers: bytes, body: bytes = b"Hello.\r\n") -> bytes:
    return headers.replace(b"\n", b"\r\n") + b"\r\n" + body


def _with_part(part_headers: bytes, payload: bytes = b"aGVsbG8=") -> bytes:
    return _message(
        b"From: Ann <ann@members.example>\nTo: bob@members.example\nSubject: files\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n",
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n--b\r\n"
        + part_headers.replace(b"\n", b"\r\n")
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + payload
        + b"\r\n--b--\r\n",
    )


def test_a_second_from_line_names_no_one_and_is_noted() -> None:
    message = read_rfc5322(
        _message(
            b"From: Doug <doug@example.com>\nTo: ann@members.example\nSubject: hi\n"
            b'From: "Should be ignored" <test@test.com>\nTo: bob@members.example\n'
            b"Cc: carla@example.org\nCc: dan@example.org\nSubject: other\n"
        )
    )
    assert [a.address for a in message.sender] == ["doug@example.com"]
    assert [a.address for a in message.to] == ["ann@members.example"]
    assert [a.address for a in message.cc] == ["carla@example.org"]
    assert message.subject == "hi"
    for line in ("From", "To", "Cc", "Subject"):
        assert f"the message has 2 {line}: lines; only the first was read" in " ".join(
            message.notes
        )


def test_comments_nested_deeper_than_any_stack_are_read() -> None:
    deep = b"(" * 20_000 + b"x" + b")" * 20_000
    message = read_rfc5322(
        _message(b"From: ann@members.example " + deep + b"\nTo: " + deep + b" bob@x.org\n")
    )
    assert [a.address for a in message.sender] == ["ann@members.example"]
    assert [a.address for a in message.to] == ["bob@x.org"]


@pytest.mark.parametrize(
    "charset",
    ["punycode", "undefined", "idna", "base64_codec", "rot13", "zlib", "utf-8\x00x", "x" * 300],
)
def test_a_charset_that_is_no_text_encoding_falls_back_with_a_note(charset: str) -> None:
    label = charset.encode()
    message = read_rfc5322(
        _message(
            b"From: =?" + label + b"?q?Ann_=FF?= <ann@members.example>\n"
            b"To: bob@members.example\nSubject: =?" + label + b"?b?Y2Fmw6k=?=\n"
            b'MIME-Version: 1.0\nContent-Type: text/plain; charset="' + label + b'"\n',
            "Crème brûlée €5".encode(),
        )
    )
    assert message.body[0].text == "Crème brûlée €5"
    assert message.subject == "café"
    assert message.sender[0].address == "ann@members.example"
    assert any("was read as UTF-8" in note for note in message.notes)


@pytest.mark.parametrize("charset", [b"punycode", b"undefined", b"utf-8\x00"])
def test_a_file_name_in_a_charset_that_is_no_text_encoding_still_reads(charset: bytes) -> None:
    message = read_rfc5322(
        _with_part(
            b"Content-Type: application/pdf\n"
            b"Content-Disposition: attachment; filename*=" + charset + b"''r%C3%A9sum%C3%A9.pdf"
        )
    )
    [resume] = message.attachments
    assert resume.filename == "résumé.pdf"


@pytest.mark.parametrize(
    "declared",
    [
        "image/pngé".encode(),  # outside Latin-1 once decoded
        b"image/png\n\tx-extra",  # folded over two lines
        b"image/" + b"p" * 300,  # over any column
        b"image/png\x01",
        b"",
    ],
)
def test_a_part_type_is_a_valid_type_or_application_octet_stream(declared: bytes) -> None:
    message = read_rfc5322(
        _with_part(b"Content-Type: " + declared + b"\nContent-Disposition: attachment; filename=x")
    )
    [file] = message.attachments
    assert file.content_type in ("image/png", UNKNOWN_TYPE)
    assert file.content_type.isascii() and "\n" not in file.content_type
    assert len(file.content_type) <= 255


def test_a_content_id_is_bounded_and_clean() -> None:
    for content_id, kept in [
        (b"<logo@x>", "logo@x"),
        (b"<" + b"a" * 300 + b"@x>", None),
        (b'<lo"go@x>', "logo@x"),
        (b"<lo go@x>", None),
        ("<logoé@x>".encode(), None),
    ]:
        message = read_rfc5322(
            _with_part(b"Content-Type: image/png\nContent-ID: " + content_id, b"iVBORw0KGgo=")
        )
        [image] = message.attachments
        assert image.content_id == kept
        assert image.content_id is None or len(image.content_id) <= CONTENT_ID_MAX


@pytest.mark.parametrize(
    ("written", "saved"),
    [
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("Console.txt", "Console.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("\u2067report\u2069.pdf", "report.pdf"),
    ],
)
def test_attachment_names_are_safe_on_any_desktop(written: str, saved: str) -> None:
    message = read_rfc5322(
        _with_part(
            b"Content-Type: application/octet-stream\nContent-Disposition: attachment; "
            b'filename="' + written.encode() + b'"'
        )
    )
    assert message.attachments[0].filename == saved


def test_a_header_of_thousands_of_parameters_is_read_in_one_pass() -> None:
    params = b"".join(b'; p%d="a;b"' % i for i in range(50_000))
    message = read_rfc5322(
        _with_part(b"Content-Type: image/png" + params + b'\nContent-Disposition: inline; name="x"')
    )
    assert message.attachments[0].content_type == "image/png"


def test_an_address_line_over_its_limit_is_read_in_part_and_said_so() -> None:
    to = b", ".join(b"Member %d <m%d@members.example>" % (i, i) for i in range(12_000))
    message = read_rfc5322(_message(b"From: ann@members.example\nTo: (c) " + to + b"\n"))
    assert 5_000 < len(message.to) < 12_000
    assert any("the To line is over 256 KB long" in note for note in message.notes)


def test_a_message_that_is_all_header_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidMessage, match="header section is over 4 MB"):
        read_rfc5322(b"Subject: " + b"x" * (5 * 1024 * 1024) + b"\r\n\r\nbody")
