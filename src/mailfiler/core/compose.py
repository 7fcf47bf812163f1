"""A message written out as an RFC 5322 ``.eml`` file.

A message that arrived as RFC 5322 text is saved exactly as it came. One
that did not (an Outlook .msg, a message being composed) is written here
with the stdlib's generator, so "Save Mail Message as EML file attachment"
gives every user the same kind of file.
"""

from __future__ import annotations

import re
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, quote

from mailfiler.core.address_list import read_address_list
from mailfiler.core.addresses import looks_like_address
from mailfiler.core.filenames import safe_name, shorten
from mailfiler.core.headers import one_line
from mailfiler.core.limits import ATTACHMENT_NAME_MAX
from mailfiler.core.message import Address, Message
from mailfiler.errors import InvalidMessage

# A Message-ID or Content-ID as RFC 5322 writes one (dot-atoms, letters
# outside ASCII allowed): the stdlib's parser fails on many other shapes.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_WRITABLE_ID = re.compile(rf"<{_DOT_ATOM}(?:@(?:{_DOT_ATOM}|\[[!-Z^-~]*\]))?>")
# An addr-spec the stdlib reads as one written bare (RFC 5322 §3.4.1, dot-atoms).
_ADDR_SPEC = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def eml_bytes(message: Message) -> bytes:
    """The message as .eml bytes: the original when there is one.

    ``InvalidMessage`` when what the message says cannot be written at all.
    """
    if message.original is not None:
        return message.original
    try:
        return _compose(message)
    except Exception:  # noqa: BLE001 - the stdlib's generator, on what a sender wrote
        # It parses each header again to fold it, and fails on some odd ones
        # the checks below cannot foresee (found by fuzzing): the address
        # lines again, with only plain addresses, their names as encoded words.
        try:
            return _compose(message, plain=True)
        except Exception as error:
            # What is left to fail is what the sender wrote, not the system:
            # a clear refusal, never a server error.
            raise InvalidMessage(
                f"this message cannot be written as an .eml file ({type(error).__name__})"
            ) from error


def eml_filename(message: Message) -> str:
    """The name of the .eml file: the subject, within the CRM's 50 characters."""
    stem = safe_name(message.subject) or "message"
    return shorten(stem + ".eml", ATTACHMENT_NAME_MAX)


# A dot-atom address (see _ADDR_SPEC) with nothing in it the generator could
# mistake for an encoded word ("=?"), or for a display name (a dot at either end
# of a part, two in a row).
_PLAIN_ATOM = r"[\w!#$%&'*+/^`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_PLAIN_ATOM}(?:\.{_PLAIN_ATOM})*@[\w-]+(?:\.[\w-]+)*")


def _plain_entry(address: Address) -> str | None:
    """The entry as the fallback writes it: a plain address, its name as encoded
    words of our own (nothing left for the generator to misread); None for others."""
    if not _PLAIN_ADDRESS.fullmatch(address.address):
        return None
    if not address.name:
        return address.address
    return f"{Header(_header(address.name), 'utf-8').encode(linesep=' ')} <{address.address}>"


def _written_entry(address: Address) -> str | None:
    """The entry the stdlib's generator writes as this address; None if there is none.

    It parses and folds each header again: on some odd entries it fails, on
    others it writes another address (a space or comment dropped, an encoded
    word decoded), which could file the message for someone nobody wrote to.
    A name it cannot write costs the name, not the address: a display name
    never decides who a message is for.
    """
    name, mailbox = _header(address.name), _header(address.address)
    if _OPENS_A_SPAN.search(mailbox) and not looks_like_address(mailbox):
        return None
    for entry in [_entry(name, mailbox)] + ([_entry("", mailbox)] if name else []):
        if _writes_as(entry, mailbox):
            return entry
    return None


def _entry(name: str, mailbox: str) -> str:
    # Not formataddr(): it refuses an address outside ASCII (a domain such as
    # bücher.example, an RFC 6532 mailbox), which the SMTPUTF8 policy writes as it is.
    if name:
        phrase = _literal(name) if "=?" in name else f'"{quote(name)}"'
        return f"{phrase} <{mailbox}>"
    # Bare, a mailbox that is not a dot-atom (".archer@x", "a..b@x", "a@") is
    # read by the stdlib as an obsolete display name, and after the ", " of a
    # list its parser fails (TypeError, CPython gh-75171); in brackets it is
    # read as the address it is (RFC 5322 §3.4: a name-addr's name is optional).
    return mailbox if _ADDR_SPEC.fullmatch(mailbox) else f"<{mailbox}>"


# What opens a quoted string, a comment or a domain literal, which readers carry
# on past the entry's end into the next ones ("[" then '"]" <a@x>' is one).
# An address (the reader's own test) closes what it opens; anything else is
# written only when it opens nothing (it reads back with a note: no address).
_OPENS_A_SPAN = re.compile(r'["(\[\\]')

# An entry the checked one follows: what comes before an entry changes how the
# stdlib reads it (CPython gh-75171), so each is checked where it will stand.
_BEFORE = "a@a.example"


def _writes_as(entry: str, mailbox: str) -> bool:
    """Whether the stdlib's generator writes ``entry`` so that it reads back as ``mailbox``."""
    try:
        header = policy.SMTPUTF8.header_factory("To", f"{_BEFORE}, {entry}")
        written = header.fold(policy=policy.SMTPUTF8).partition(":")[2]
    except Exception:  # noqa: BLE001 - any failure of the stdlib's parser means "cannot"
        return False
    return [address for _, address in read_address_list(written).pairs] == [_BEFORE, mailbox]


def _literal(text: str) -> str:
    """Text that looks like RFC 2047 encoded words ("=?x?q?...?="), kept as written.

    The stdlib's generator parses each header again to fold it, decoding any
    encoded word it finds, and fails on one in an unknown charset: so the text
    goes as encoded words of our own (UTF-8), which read back as the text itself.
    """
    if "=?" not in text:
        return text
    return Header(text, "utf-8").encode(linesep=" ")


def _compose(message: Message, plain: bool = False) -> bytes:
    mail = EmailMessage(policy=policy.SMTPUTF8)
    for header, addresses in (
        ("From", message.sender),
        ("To", message.to),
        ("Cc", message.cc),
        ("Bcc", message.bcc),
    ):
        entries = [e for e in map(_plain_entry if plain else _written_entry, addresses) if e]
        if entries:  # an address the generator cannot write is left out
            mail[header] = ", ".join(entries)
    mail["Subject"] = _literal(_header(message.subject))
    if message.date is not None:
        mail["Date"] = format_datetime(message.date)
    message_id = _header(message.message_id or "")
    if _WRITABLE_ID.fullmatch(message_id):
        mail["Message-ID"] = message_id  # one the generator cannot write is left out
    html = _writable("\n".join(p.html for p in message.body if p.html is not None))
    text = _writable("\n".join(p.text for p in message.body if p.text is not None))
    if text or not html:
        mail.set_content(text or "")
        if html:
            mail.add_alternative(html, subtype="html")
    else:
        mail.set_content(html, subtype="html")
    for attachment in message.attachments:
        # What a .msg or a composed message says is written only as far as it is
        # well formed: a name or type with a line break in it would break the file.
        content_type = attachment.content_type.strip().lower()
        if (
            not _CONTENT_TYPE.fullmatch(content_type)
            or content_type.startswith(("text/", "multipart/"))
            or (content_type.startswith("message/") and content_type != "message/rfc822")
        ):
            # Text too: keep its bytes exactly. A container type other than a
            # whole message would be read back as parts (the stdlib's generator
            # cannot even write message/delivery-status from bytes).
            content_type = "application/octet-stream"
        maintype, _, subtype = content_type.partition("/")
        content_id = _header(attachment.content_id or "").strip("<>")
        mail.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=_header(attachment.filename),
            cid=f"<{content_id}>" if _WRITABLE_ID.fullmatch(f"<{content_id}>") else None,
        )
    return mail.as_bytes()


def _header(text: str) -> str:
    return _writable(one_line(text))


def _writable(text: str) -> str:
    """Text UTF-8 can carry: a lone surrogate (a damaged .msg string) becomes "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")
