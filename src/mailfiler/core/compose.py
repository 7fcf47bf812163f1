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

from mailfiler.core.filenames import safe_name, shorten
from mailfiler.core.headers import one_line
from mailfiler.core.limits import ATTACHMENT_NAME_MAX
from mailfiler.core.message import Address, Message

# A Message-ID or Content-ID as RFC 5322 writes one (dot-atoms, letters
# outside ASCII allowed): the stdlib's parser fails on many other shapes.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_WRITABLE_ID = re.compile(rf"<{_DOT_ATOM}(?:@(?:{_DOT_ATOM}|\[[!-Z^-~]*\]))?>")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def eml_bytes(message: Message) -> bytes:
    """The message as .eml bytes: the original when there is one."""
    if message.original is not None:
        return message.original
    try:
        return _compose(message)
    except Exception:  # noqa: BLE001 - the stdlib's generator, on what a sender wrote
        # It parses each header again to fold it, and fails on some odd ones
        # the checks below cannot foresee (found by fuzzing): the address
        # lines again, with only plain addresses, their names as encoded words.
        return _compose(message, plain=True)


def eml_filename(message: Message) -> str:
    """The name of the .eml file: the subject, within the CRM's 50 characters."""
    stem = safe_name(message.subject) or "message"
    return shorten(stem + ".eml", ATTACHMENT_NAME_MAX)


def _line(addresses: tuple[Address, ...], plain: bool = False) -> str:
    if plain:  # names as encoded words of our own: nothing left for the generator to misread
        return ", ".join(
            f"{Header(_header(a.name), 'utf-8').encode(linesep=' ')} <{a.address}>"
            if a.name
            else a.address
            for a in addresses
        )
    return ", ".join(_entry(a) for a in addresses)


def _entry(address: Address) -> str:
    # Not formataddr(): it refuses an address outside ASCII (a domain such as
    # bücher.example, an RFC 6532 mailbox), which the SMTPUTF8 policy writes as it is.
    name, mailbox = _header(address.name), _header(address.address)
    if "=?" in name:
        return f"{_literal(name)} <{mailbox}>"
    return f'"{quote(name)}" <{mailbox}>' if name else mailbox


def _writable_entry(address: Address) -> bool:
    """Whether the stdlib's generator can write this entry (it parses and folds each
    header again, and fails on some odd ones): an entry it cannot is left out."""
    try:
        header = policy.SMTPUTF8.header_factory("To", _entry(address))
        header.fold(policy=policy.SMTPUTF8)
    except Exception:  # noqa: BLE001 - any failure of the stdlib's parser means "cannot"
        return False
    return True


def _literal(text: str) -> str:
    """Text that looks like RFC 2047 encoded words ("=?x?q?...?="), kept as written.

    The stdlib's generator parses each header again to fold it, decoding any
    encoded word it finds, and fails on one in an unknown charset: so the text
    goes as encoded words of our own (UTF-8), which read back as the text itself.
    """
    if "=?" not in text:
        return text
    return Header(text, "utf-8").encode(linesep=" ")


# An address with nothing in it the generator could mistake for an encoded word.
_PLAIN_ADDRESS = re.compile(r"[\w.!#$%&'*+/^`{|}~-]+@[\w.-]+")


def _compose(message: Message, plain: bool = False) -> bytes:
    mail = EmailMessage(policy=policy.SMTPUTF8)
    for header, addresses in (
        ("From", message.sender),
        ("To", message.to),
        ("Cc", message.cc),
        ("Bcc", message.bcc),
    ):
        written = [
            a
            for a in addresses
            if (_PLAIN_ADDRESS.fullmatch(a.address) if plain else _writable_entry(a))
        ]
        if written:
            mail[header] = _line(tuple(written), plain)
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
