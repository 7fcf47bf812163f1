"""One MIME header section, read with the stdlib's RFC 5322 parser and never trusted to be valid.

The stdlib (``policy.default``) decodes encoded words (RFC 2047), encoded and
continued parameters (RFC 2231) and address lists; every read here falls back
to a rawer reading when a hostile header makes it raise, so one bad header
never costs the whole message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address as StdAddress
from email.message import EmailMessage
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from mailfiler.core.addresses import looks_like_address
from mailfiler.core.message import Address

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
    """Safe, decoded access to one header section."""

    def __init__(self, raw: bytes, default_type: str = "text/plain") -> None:
        text, self.guessed_charset = _decode_header_section(raw)
        self._msg: EmailMessage = HeaderParser(policy=policy.default).parsestr(text)
        self._msg.set_default_type(default_type)

    def __len__(self) -> int:
        return len(self._msg)

    def raw(self, name: str) -> list[str]:
        name = name.lower()
        return [str(v) for k, v in self._msg.raw_items() if k.lower() == name]

    def text(self, name: str) -> str:
        """The decoded value of the first such header, on one line; "" when absent."""
        try:
            value = self._msg[name]
            return "" if value is None else one_line(str(value))
        except Exception:  # noqa: BLE001 - any parser failure falls back to the raw value
            raws = self.raw(name)
            if not raws:
                return ""
            try:
                return one_line(str(make_header(decode_header(raws[0]))))
            except Exception:  # noqa: BLE001
                return one_line(raws[0])

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Every mailbox on every header of this name (groups flattened), in order."""
        found: list[Address] = []
        for raw in self.raw(name):
            try:
                parsed = [(a.display_name, a.addr_spec) for a in _parse_address_header(name, raw)]
            except Exception:  # noqa: BLE001 - fall back to the lenient RFC 2822 splitter
                parsed = getaddresses([raw])
            for display, addr in parsed:
                addr = one_line(addr).strip("<>")
                if looks_like_address(addr):
                    found.append(Address(address=addr, name=one_line(_decode_words(display))))
        return tuple(found)

    @property
    def content_type(self) -> str:
        try:
            return self._msg.get_content_type()
        except Exception:  # noqa: BLE001
            return self._msg.get_default_type()

    def param(self, name: str) -> str | None:
        try:
            header = self._msg["content-type"]
            if header is None:
                return None
            value = header.params.get(name)
        except Exception:  # noqa: BLE001
            value = None
        return None if value is None else str(value)

    @property
    def charset(self) -> str | None:
        return self.param("charset")

    @property
    def filename(self) -> str:
        try:
            name = self._msg.get_filename()
        except Exception:  # noqa: BLE001
            name = None
        return one_line(_decode_words(name)) if name else ""

    @property
    def disposition(self) -> str | None:
        try:
            return self._msg.get_content_disposition()
        except Exception:  # noqa: BLE001
            return None

    @property
    def transfer_encoding(self) -> str:
        raws = self.raw("content-transfer-encoding")
        return raws[0].strip().lower() if raws else "7bit"

    @property
    def content_id(self) -> str | None:
        raws = self.raw("content-id")
        if not raws:
            return None
        value = one_line(raws[0]).strip().strip("<>").strip()
        return value or None

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


def _parse_address_header(name: str, raw: str) -> list[StdAddress]:
    header = policy.default.header_factory(name, raw)
    return list(header.addresses)


def _decode_words(text: str) -> str:
    """Decode RFC 2047 words the address parser left encoded (some mailers quote them)."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001
        return text
