"""One MIME header section, read with the stdlib's RFC 5322 parser and never trusted to be valid.

The stdlib (``policy.default``) decodes encoded words (RFC 2047), encoded and
continued parameters (RFC 2231) and address lists; every read here falls back
to a rawer reading when a hostile header makes it raise, so one bad header
never costs the whole message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from functools import cached_property

from mailfiler.core.address_list import ENTRIES_MAX, read_address_list
from mailfiler.core.addresses import looks_like_address
from mailfiler.core.charsets import decode_bytes
from mailfiler.core.limits import ADDRESS_LINE_MAX
from mailfiler.core.message import Address
from mailfiler.core.mime_params import UNKNOWN_TYPE, clean_content_id, media_type, split_value

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _decode_header_section(raw: bytes) -> tuple[str, bool]:
    """Header bytes as text. RFC 6532 allows UTF-8 in headers; older mail uses Windows-1252."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    lines = []
    for line in raw.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", errors="replace"))
    return "\n".join(lines), True


def one_line(text: str) -> str:
    """A header value as one line: folding and control characters become single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


class Headers:
    """Safe, decoded access to one header section.

    Parsed with the stdlib's ``compat32`` policy, which keeps values as text
    and parses a header only when asked (``policy.default`` builds an object
    for every header read: ten times slower on a 30-recipient message, for
    the same answers here; tests/core/test_read.py compares the two on the
    corpus). RFC 2047 words and RFC 2231 parameters are decoded below.
    """

    def __init__(self, raw: bytes, default_type: str = "text/plain") -> None:
        text, self.guessed_charset = _decode_header_section(raw)
        self._msg: Message = HeaderParser(policy=compat32).parsestr(text)
        self._msg.set_default_type(default_type)
        # (header name, entry) of each address-list entry that is not an
        # address: left out of the lines, and said so in the message's notes.
        self.not_addresses: list[tuple[str, str]] = []
        # Sentences saying that an address line was too long to read whole.
        self.cut: list[str] = []

    def __len__(self) -> int:
        return len(self._msg)

    def raw(self, name: str) -> list[str]:
        return [str(v) for v in self._msg.get_all(name) or []]

    def text(self, name: str) -> str:
        """The decoded value of the first such header, on one line; "" when absent."""
        raws = self.raw(name)
        return one_line(_decode_words(raws[0])) if raws else ""

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Every mailbox on the first header of this name (groups flattened), in order.

        RFC 5322 §3.6 allows one From, To, Cc and Bcc line; a second one is
        not what a mail program shows, so it never names a participant
        (``repeated`` says it was there).
        """
        raws = self.raw(name)
        if not raws:
            return ()
        raw = raws[0]
        plain = _plain_list(raw) if len(raw) <= ADDRESS_LINE_MAX else None
        if plain is not None:  # well-formed and on one line already
            return tuple(
                Address(
                    address=addr,
                    name=one_line(_decode_words(display)) if "=?" in display else display,
                )
                for display, addr in plain
            )
        label = name.title()
        if len(raw) > ADDRESS_LINE_MAX:
            raw = raw[: raw.rfind(",", 0, ADDRESS_LINE_MAX) + 1 or ADDRESS_LINE_MAX]
            self.cut.append(
                f"the {label} line is over {ADDRESS_LINE_MAX // 1024} KB long: "
                "only the addresses in its first part were read"
            )
        members = read_address_list(raw)
        if members.cut:
            self.cut.append(
                f"the {label} line has more than {ENTRIES_MAX:,} addresses: "
                f"only the first {ENTRIES_MAX:,} were read"
            )
        found: list[Address] = []
        for display, addr in members.pairs:
            addr = one_line(addr)
            display = one_line(_decode_words(display))
            if looks_like_address(addr):
                found.append(Address(address=addr, name=display))
            else:
                shown = f"{display} <{addr}>" if display and addr else display or addr
                self.not_addresses.append((name, shown[:200]))
        return tuple(found)

    def repeated(self, name: str) -> int:
        """How many headers of this name there are beyond the first."""
        return max(len(self._msg.get_all(name) or []) - 1, 0)

    @cached_property
    def _content_type(self) -> tuple[str, dict[str, str]]:
        return split_value(self._first("content-type") or "")

    @cached_property
    def _disposition(self) -> tuple[str, dict[str, str]]:
        return split_value(self._first("content-disposition") or "")

    def _first(self, name: str) -> str | None:
        value = self._msg.get(name)
        return None if value is None else str(value)

    @cached_property
    def content_type(self) -> str:
        if self._first("content-type") is None:
            return self._msg.get_default_type()
        # RFC 2045 §5.2: a type that cannot be read means text/plain.
        return media_type(self._content_type[0]) or "text/plain"

    @cached_property
    def file_type(self) -> str:
        """The type to keep with this part as a file: as declared when valid, else
        ``application/octet-stream`` (nothing is known of bytes with a broken type)."""
        if self._first("content-type") is None:
            return self._msg.get_default_type()
        return media_type(self._content_type[0]) or UNKNOWN_TYPE

    def param(self, name: str) -> str | None:
        """A Content-Type parameter, decoded (RFC 2231, and RFC 2047 as mailers misuse it)."""
        value = self._content_type[1].get(name)
        return None if value is None else one_line(_decode_words(value))

    @cached_property
    def charset(self) -> str | None:
        return self.param("charset")

    @cached_property
    def filename(self) -> str:
        """The file name the sender gave: Content-Disposition's, else Content-Type's "name"."""
        name = self._disposition[1].get("filename") or self._content_type[1].get("name")
        return one_line(_decode_words(name)) if name else ""

    @cached_property
    def disposition(self) -> str | None:
        value = self._disposition[0].lower()
        return value or None

    @property
    def transfer_encoding(self) -> str:
        raws = self.raw("content-transfer-encoding")
        return raws[0].strip().lower() if raws else "7bit"

    @property
    def content_id(self) -> str | None:
        raws = self.raw("content-id")
        return clean_content_id(one_line(raws[0])) if raws else None

    @property
    def date(self) -> datetime | None:
        raws = self.raw("date")
        if not raws:
            return None
        try:
            when = parsedate_to_datetime(one_line(raws[0]))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # RFC 5322 §3.3: "-0000" means the zone is unknown; UTC is the honest reading.
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    @property
    def message_id(self) -> str | None:
        raws = self.raw("message-id")
        if not raws:
            return None
        value = one_line(raws[0])
        found = _MESSAGE_ID.search(value)
        if found:
            return found.group(0)
        return f"<{value}>" if value else None


# A plain entry of an address list: "Display Name <local@domain>" or a bare
# "local@domain", made of atoms only (no quotes, comments, groups, routes or
# dots in the name). Most lists are all plain; for those, splitting on commas
# gives what the full reader (address_list.py) gives, in a fifth of the time.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_PLAIN_ENTRY = re.compile(
    rf"\s*(?:((?:{_ATOM}\s+)*?{_ATOM})?\s*<({_ADDR_SPEC})>|({_ADDR_SPEC}))\s*"
)


def _plain_list(raw: str) -> list[tuple[str, str]] | None:
    """(display name, address) pairs when every entry is plain; None otherwise."""
    pairs = []
    for entry in raw.split(","):
        found = _PLAIN_ENTRY.fullmatch(entry)
        if found is None:
            return None
        display, bracketed, bare = found.groups()
        pairs.append((" ".join(display.split()) if display else "", bracketed or bare))
    return pairs


def _decode_words(text: str) -> str:
    """Text with its RFC 2047 encoded words decoded.

    Adjacent encoded words join without the white space between them (RFC 2047
    §6.2), whatever their charsets (the stdlib's ``make_header`` would put a
    space between two charsets); an unknown or wrong charset falls back.
    """
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except Exception:  # noqa: BLE001 - a malformed word stays as it was written
        return text
    decoded = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            decoded.append(chunk)
        elif charset is None:
            decoded.append(chunk.decode("raw-unicode-escape"))
        else:
            decoded.append(decode_bytes(chunk, charset)[0])
    return "".join(decoded)
