"""Every file of the shared corpus reads into a message or says why it cannot; never a traceback."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from pathlib import Path

import pytest

from mailfiler.core.body import activity_body, interaction_body
from mailfiler.core.compose import eml_bytes
from mailfiler.core.headers import one_line
from mailfiler.core.mbox import is_mbox, split_mbox
from mailfiler.core.message import Message
from mailfiler.core.read import kind_of, read_message
from mailfiler.errors import InvalidMessage
from mailfiler.service.sandbox import run_limited
from tests.conftest import CORPUS, corpus_path


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return [CORPUS / "missing"]
    # oom.tnef has a test of its own below (it takes seconds to hit its limit).
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "oom.tnef")


@pytest.mark.parametrize(
    "path", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)) if CORPUS.is_dir() else "x"
)
def test_every_corpus_file_reads_or_gives_a_reason(path: Path) -> None:
    corpus_path()
    data = path.read_bytes()
    for entry in split_mbox(data) if is_mbox(data) else [data]:
        try:
            message = read_message(entry, run_limited)
        except InvalidMessage as error:
            reason = str(error)
            assert reason
            assert "Traceback" not in reason
            assert len(reason) < 300
            continue
        assert isinstance(message, Message)
        # What a save derives from the message must not fail either.
        interaction_body(message)
        activity_body(message)
        assert message.key
        assert eml_bytes(message)


def test_the_hostile_tnef_fails_cleanly_within_its_limits() -> None:
    # tnefparse alone allocates until the machine kills it (corpus/README.txt).
    oom = corpus_path() / "apache-poi" / "hmef" / "oom.tnef"
    started = time.monotonic()
    with pytest.raises(InvalidMessage, match=r"MB|limit"):
        read_message(oom.read_bytes(), run_limited)
    assert time.monotonic() - started < 60
    # ... and the same file inside an email costs the attachment, not the message.
    wrapped = (
        b"From: a@example.org\nTo: b@example.org\nSubject: hostile\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n"
        b"--x\nContent-Type: application/ms-tnef\nContent-Disposition: attachment; "
        b"filename=winmail.dat\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(oom.read_bytes())
        + b"--x--\n"
    )
    message = read_message(wrapped, run_limited)
    assert [a.filename for a in message.attachments] == ["winmail.dat"]
    assert any("winmail.dat could not be expanded" in note for note in message.notes)


@pytest.mark.parametrize("number", ["4735011465854976", "4848576776503296", "5336473854148608"])
def test_fuzzer_made_outlook_files_fail_cleanly_or_read(number: str) -> None:
    path = (
        corpus_path()
        / "apache-poi"
        / "hsmf"
        / f"clusterfuzz-testcase-minimized-POIHSMFFuzzer-{number}.msg"
    )
    try:
        message = read_message(path.read_bytes(), run_limited)
    except InvalidMessage as error:
        reason = str(error)
    else:
        assert isinstance(message, Message)
        return
    assert "Outlook" in reason or "damaged" in reason or "limit" in reason


def test_a_very_long_boundary_is_read() -> None:
    path = corpus_path() / "james-mime4j" / "testmsgs" / "very-very-long-boundary.msg"
    message = read_message(path.read_bytes(), run_limited)
    assert message.body or message.attachments


def test_files_that_are_not_mail_say_so() -> None:
    for data in (b"%PDF-1.4\n...", b"Hello,\nthis is a letter.\n"):
        with pytest.raises(InvalidMessage, match="not an email message"):
            read_message(data)
    with pytest.raises(InvalidMessage, match="empty"):
        read_message(b"  \n")


def test_an_ole_file_that_is_not_outlook_mail_is_refused() -> None:
    doc = corpus_path() / "apache-poi" / "hmef" / "quick-contents" / "quick.doc"
    with pytest.raises(InvalidMessage, match="Outlook"):
        read_message(doc.read_bytes(), run_limited)


def test_the_kind_of_a_file_is_told_by_its_bytes_not_its_name() -> None:
    base = corpus_path()
    assert kind_of((base / "apache-poi/hsmf/quick.msg").read_bytes()) == "Outlook .msg"
    assert kind_of((base / "james-mime4j/testmsgs/simple-attachment.msg").read_bytes()) == "email"
    assert kind_of((base / "apache-poi/hmef/quick-winmail.dat").read_bytes()) == "winmail.dat"
    assert kind_of((base / "james-mime4j/mbox/mbox.rlug").read_bytes()) == "mbox"


# Where mailfiler's reader and the stdlib differ on purpose, and why.
_DELIBERATE = {
    # "Content-transfer-encoding: base64 " (trailing space): the stdlib leaves the
    # image base64-encoded; we decode it.
    "james-mime4j/mimetools-testmsgs/twopart.msg",
    # An alternative rendition (text/enriched) we do not show is not a file.
    "stalwart-mail-parser/rfc/003.eml",
    # Images inside an alternative rendition we did not choose are not files.
    "stalwart-mail-parser/rfc/007.eml",
}


def _stdlib_files(part: email.message.Message, found: list[bytes]) -> None:
    content_type = part.get_content_type()
    if content_type.startswith("message/"):
        return
    if part.is_multipart():
        for child in part.get_payload():
            if not isinstance(child, str):
                _stdlib_files(child, found)
        return
    is_body = content_type in ("text/plain", "text/html") and not part.get_filename()
    if is_body and part.get_content_disposition() != "attachment":
        return
    found.append(part.get_payload(decode=True) or b"")


def _well_formed_corpus() -> list[Path]:
    if not CORPUS.is_dir():
        return [CORPUS / "missing"]
    return [
        p
        for p in sorted(CORPUS.rglob("*"))
        if p.is_file() and "apache-poi" not in p.parts and not is_mbox(p.read_bytes()[:5])
    ]


@pytest.mark.parametrize(
    "path", _well_formed_corpus(), ids=lambda p: p.name if CORPUS.is_dir() else "x"
)
def test_reader_agrees_with_the_stdlib_on_well_formed_messages(path: Path) -> None:
    """The stdlib is the reference: same subject, same addresses, same attachment bytes."""
    corpus_path()
    relative = str(path.relative_to(CORPUS))
    data = path.read_bytes()
    try:
        mine = read_message(data)
    except InvalidMessage:
        pytest.skip("not a message (covered by the test above)")
    reference = email.message_from_bytes(data, policy=email.policy.default)
    if any(part.defects for part in reference.walk()):
        pytest.skip("the stdlib itself reports this message as malformed")
    assert mine.subject == one_line(str(reference["subject"] or ""))
    for line, addresses in (("to", mine.to), ("cc", mine.cc)):
        expected = [
            a.addr_spec.lower()
            # RFC 5322 allows one To and one Cc line; later ones are ignored (and noted).
            for header in (reference.get_all(line) or [])[:1]
            for a in header.addresses
            if "@" in a.addr_spec
        ]
        assert [a.address.lower() for a in addresses] == expected
    theirs: list[bytes] = []
    _stdlib_files(reference, theirs)
    ours = [a.data for a in mine.attachments if not a.content_type.startswith("message/")]
    if relative in _DELIBERATE:
        assert sorted(ours) != sorted(theirs), "no longer differs: drop it from _DELIBERATE"
    else:
        assert sorted(ours) == sorted(theirs)
