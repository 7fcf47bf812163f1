"""Reading RFC 5322 / MIME: encoded words, parameters, charsets, nesting, inline images."""

from __future__ import annotations

import base64

from mailfiler.core.mime import read_rfc5322
from tests.conftest import corpus_path, fixture_bytes


def test_encoded_words_and_continued_parameters_are_decoded() -> None:
    message = read_rfc5322(fixture_bytes("encoded-words.eml"))
    assert message.subject == "Réunion du comité à Zürich"
    assert message.sender[0].name == "René François"
    assert message.to[0].name == "Carla Díaz"
    names = [a.filename for a in message.attachments]
    # RFC 2231 continued, percent-encoded name; RFC 2047 word inside a name= parameter.
    assert names == ["Ordre du jour – réunion de novembre.pdf", "notes été.txt"]
    assert message.attachments[0].data.startswith(b"%PDF-1.4")
    assert message.body[0].text == "Bonjour à tous,\nl'ordre du jour est joint."


def test_a_wrong_or_unknown_charset_falls_back_and_says_so() -> None:
    message = read_rfc5322(fixture_bytes("wrong-charset.eml"))
    assert message.subject == "Café menu"
    texts = [p.text for p in message.body]
    assert texts[0] == "Crème brûlée for dessert, £5."
    assert texts[1] == "Second part: naïve."
    assert any("x-no-such-charset" in note for note in message.notes)
    assert any("Windows-1252" in note for note in message.notes)


def test_a_forwarded_message_is_kept_whole_as_an_eml_attachment() -> None:
    message = read_rfc5322(fixture_bytes("forwarded.eml"))
    [forwarded] = message.attachments
    assert forwarded.filename == "Invoice 2026-11.eml"
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.data.startswith(b"From: Supplier <billing@supplier.example>")
    inner = read_rfc5322(forwarded.data)
    assert inner.subject == "Invoice 2026-11"
    # The forwarded message's people are not this message's people.
    assert [a.address for a in message.to] == ["ann@members.example"]


def test_inline_images_are_kept_and_linked_by_content_id() -> None:
    message = read_rfc5322(fixture_bytes("inline-image.eml"))
    [logo] = message.attachments
    assert logo.content_id == "logo-1@ito.example"
    assert logo.inline
    assert logo.data.startswith(b"\x89PNG")
    [body] = message.body
    assert body.html is not None and "cid:logo-1@ito.example" in body.html
    assert body.text == "Our logo is below."


def test_tnef_inside_an_email_is_expanded_into_its_files() -> None:
    winmail = (corpus_path() / "apache-poi" / "hmef" / "quick-winmail.dat").read_bytes()
    data = (
        b"From: a@example.org\nTo: b@example.org\nSubject: from Outlook\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n"
        b"--x\nContent-Type: application/ms-tnef; name=winmail.dat\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(winmail) + b"--x--\n"
    )
    message = read_rfc5322(data)
    names = sorted(a.filename for a in message.attachments)
    assert names == ["quick.doc", "quick.html", "quick.pdf", "quick.txt", "quick.xml"]
    expected = corpus_path() / "apache-poi" / "hmef" / "quick-contents"
    for attachment in message.attachments:
        assert attachment.data == (expected / attachment.filename).read_bytes()


def test_a_missing_closing_boundary_keeps_the_last_part_and_says_so() -> None:
    data = (
        b"From: a@example.org\nSubject: cut\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment; filename=a.pdf\n\n%PDF-data"
    )
    message = read_rfc5322(data)
    assert message.body[0].text == "first"
    assert message.attachments[0].data == b"%PDF-data"
    assert any("closing MIME boundary" in note for note in message.notes)


def test_a_boundary_that_prefixes_another_does_not_split_it() -> None:
    data = (
        b"From: a@example.org\nSubject: nested\nContent-Type: multipart/mixed; boundary=b1\n\n"
        b"--b1\nContent-Type: multipart/alternative; boundary=b1_alt\n\n"
        b"--b1_alt\nContent-Type: text/plain\n\nplain\n--b1_alt\nContent-Type: text/html\n\n"
        b"<p>rich</p>\n--b1_alt--\n--b1\nContent-Type: image/gif\n"
        b"Content-Disposition: attachment; filename=x.gif\n\nGIF89a\n--b1--\n"
    )
    message = read_rfc5322(data)
    [body] = message.body
    assert body.text == "plain" and body.html == "<p>rich</p>"
    assert [a.filename for a in message.attachments] == ["x.gif"]


def test_text_after_a_boundary_on_its_line_is_ignored() -> None:
    # RFC 2046 §5.1.1 (and james-mime4j's ending-boundaries.msg).
    data = (
        b"From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b trailing words\nContent-Type: text/plain\n\nfirst part\n--b-- the end\n"
    )
    assert read_rfc5322(data).body[0].text == "first part"


def test_deeply_nested_parts_are_not_followed_for_ever() -> None:
    depth = 200
    head = b"From: a@example.org\nSubject: deep\n"
    parts = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    message = read_rfc5322(head + parts + b"Content-Type: text/plain\n\ndeep text\n")
    assert any("nested more than" in note for note in message.notes)


def test_quoted_printable_and_crlf_are_undone() -> None:
    data = (
        b"From: a@example.org\r\nSubject: qp\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =\r\nau lait\r\n"
    )
    assert read_rfc5322(data).body[0].text == "Café au lait\n"


def test_obsolete_header_syntax_is_read() -> None:
    message = read_rfc5322(b"Subject : spaced\nFrom : a@example.org\n\nbody\n")
    assert message.subject == "spaced"
    assert message.sender[0].address == "a@example.org"


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    message = read_rfc5322("From: José <jo@bücher.example>\nSubject: Grüße\n\nx".encode())
    assert message.sender[0].name == "José"
    assert message.sender[0].address == "jo@bücher.example"
    assert message.subject == "Grüße"


def test_an_entry_that_is_not_an_address_is_left_out_and_said_so() -> None:
    message = read_rfc5322(
        b"From: Ann <ann@members.example>\r\n"
        b'To: bob, "Carla" <carla@members.example>, "Nobody" <>, undisclosed-recipients:;\r\n'
        b"Cc: dan@members.example, , \r\n\r\nHello\r\n"
    )
    assert [a.address for a in message.to] == ["carla@members.example"]
    assert [a.address for a in message.cc] == ["dan@members.example"]
    assert message.notes == (
        "To: 'bob' is not an email address, so it is left out",
        "To: 'Nobody' is not an email address, so it is left out",
    )
