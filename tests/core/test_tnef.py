"""winmail.dat (TNEF) on its own: its files, body and sender."""

from __future__ import annotations

import pytest

from mailfiler.core.read import read_message
from mailfiler.core.tnef import expand
from mailfiler.errors import InvalidMessage
from mailfiler.service.sandbox import run_limited
from tests.conftest import corpus_path


def test_a_bare_winmail_dat_reads_as_a_message_with_its_files() -> None:
    hmef = corpus_path() / "apache-poi" / "hmef"
    message = read_message((hmef / "quick-winmail.dat").read_bytes(), run_limited)
    assert message.format == "tnef"
    assert message.subject == "This is a test message"
    for attachment in message.attachments:
        assert attachment.data == (hmef / "quick-contents" / attachment.filename).read_bytes()
    assert message.attachments[2].content_type == "application/pdf"
    # Its body is RTF only: kept as readable text.
    assert message.body[0].text and "Five files from Hell!" in message.body[0].text


def test_the_sender_and_html_body_of_a_tnef_message() -> None:
    data = (corpus_path() / "apache-poi" / "hmef" / "bug63955-winmail.dat").read_bytes()
    content = expand(data)
    assert content.sender[0].address == "juliette@crescoeiendom.no"
    assert content.body[0].html
    assert [a.filename for a in content.attachments] == ["SI-61597.pdf", "SI-61598.pdf"]


def test_data_without_the_tnef_signature_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="signature"):
        expand(b"not tnef at all")
