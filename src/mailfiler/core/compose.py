"""A message written out as an RFC 5322 ``.eml`` file.

A message that arrived as RFC 5322 text is saved exactly as it came. One
that did not (an Outlook .msg, a message being composed) is written here
with the stdlib's generator, so "Save Mail Message as EML file attachment"
gives every user the same kind of file.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, quote

from mailfiler.core.filenames import safe_name, shorten
from mailfiler.core.headers import one_line
from mailfiler.core.limits import ATTACHMENT_NAME_MAX
from mailfiler.core.message import Address, Message


def eml_bytes(message: Message) -> bytes:
    """The message as .eml bytes: the original when there is one."""
    if message.original is not None:
        return message.original
    return _compose(message)


def eml_filename(message: Message) -> str:
    """The name of the .eml file: the subject, within the CRM's 50 characters."""
    stem = safe_name(message.subject) or "message"
    return shorten(stem + ".eml", ATTACHMENT_NAME_MAX)


def _line(addresses: tuple[Address, ...]) -> str:
    return ", ".join(_entry(a) for a in addresses)


def _entry(address: Address) -> str:
    # Not formataddr(): it refuses an address outside ASCII (a domain such as
    # bücher.example, an RFC 6532 mailbox), which the SMTPUTF8 policy writes as it is.
    name, mailbox = one_line(address.name), one_line(address.address)
    return f'"{quote(name)}" <{mailbox}>' if name else mailbox


def _compose(message: Message) -> bytes:
    mail = EmailMessage(policy=policy.SMTPUTF8)
    for header, addresses in (
        ("From", message.sender),
        ("To", message.to),
        ("Cc", message.cc),
        ("Bcc", message.bcc),
    ):
        if addresses:
            mail[header] = _line(addresses)
    mail["Subject"] = one_line(message.subject)
    if message.date is not None:
        mail["Date"] = format_datetime(message.date)
    if message.message_id:
        mail["Message-ID"] = message.message_id
    html = "\n".join(p.html for p in message.body if p.html is not None)
    text = "\n".join(p.text for p in message.body if p.text is not None)
    if text or not html:
        mail.set_content(text or "")
        if html:
            mail.add_alternative(html, subtype="html")
    else:
        mail.set_content(html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if maintype == "text":
            maintype, subtype = "application", "octet-stream"  # keep the bytes exactly
        mail.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            cid=f"<{attachment.content_id}>" if attachment.content_id else None,
        )
    return mail.as_bytes()
