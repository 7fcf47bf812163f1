"""Outlook .msg files (extract-msg), run under the sandbox as the service runs them."""

from __future__ import annotations

import pytest

from mailfiler.core.read import read_message
from mailfiler.errors import InvalidMessage
from mailfiler.service.sandbox import run_limited
from tests.conftest import corpus_path


def _read(name: str):  # type: ignore[no-untyped-def]
    return read_message((corpus_path() / "apache-poi" / "hsmf" / name).read_bytes(), run_limited)


def test_a_received_outlook_message_gives_its_people_body_and_files() -> None:
    message = _read("example_received_regular.msg")
    assert message.format == "msg"
    assert message.subject == "This is a test message please ignore"
    assert message.sender[0].address == "mike.farman@alfresco.com"
    assert message.to[0].address == "ashutosh.dandavate@alfresco.com"
    assert message.message_id and message.message_id.startswith("<27350255")
    assert [a.filename for a in message.attachments] == ["alfresco.gif"]
    assert message.attachments[0].size > 1000  # (a BMP image, whatever its name says)
    assert message.has_html


def test_a_sent_outlook_message_carries_bcc_and_an_x500_sender_is_resolved() -> None:
    sent = _read("example_sent_regular.msg")
    assert [a.address for a in sent.bcc] == ["dave.caruana@alfresco.com", "jan.vonka@alfresco.com"]
    assert len(sent.cc) == 3
    # PidTagSenderEmailAddress holds an Exchange X.500 name here; the SMTP one is used.
    x500 = _read("attachment_msg_pdf.msg")
    assert x500.sender[0].address == "nick.booth@pof.com.au"


def test_inline_images_keep_their_content_ids() -> None:
    message = _read("attachment_msg_inlineImg.msg")
    ids = [a.content_id for a in message.attachments]
    assert "image001.png@01D0A524.96D40F30" in ids
    assert all(a.inline for a in message.attachments)


def test_an_attached_outlook_item_is_kept_as_a_msg_file() -> None:
    message = _read("attachment_msg_pdf.msg")
    names = [a.filename for a in message.attachments]
    assert names == ["Test Attachment.msg", "smbprn.00009008.KdcPjl.pdf"]
    assert message.attachments[0].data.startswith(b"\xd0\xcf\x11\xe0")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("msgClassContact.msg", "contact card"), ("msgClassTask.msg", "task"),
     ("msgClassStickyNote.msg", "note")],
)  # fmt: skip
def test_outlook_items_that_are_not_mail_are_refused_by_name(name: str, kind: str) -> None:
    with pytest.raises(InvalidMessage, match=f"is a {kind}"):
        _read(name)


def test_unicode_and_codepage_subjects_are_decoded() -> None:
    assert _read("cyrillic_message.msg").subject.startswith("Автоматический ответ")
    assert _read("ASCII_CP1251_LCID1049.msg").subject.startswith("Subject ")
