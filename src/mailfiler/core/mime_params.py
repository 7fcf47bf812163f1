"""Content-Type and Content-Disposition values: the main value and its parameters.

Read in one pass (RFC 2045 §5.1, RFC 2183, RFC 2231 continuations and
charsets). The stdlib's ``Message.get_param`` copies the rest of the header
for each parameter and counts quotes from its start for each ";" (quadratic:
a long header of parameters costs seconds); this one scans each character
once, and a value longer than ``VALUE_MAX`` is read only that far.

Values that are sent back or stored (a part's type, its Content-ID) are
cleaned here too, so that what a sender wrote can never break a download,
a page or a database column.
"""

from __future__ import annotations

import re
from typing import Final

from mailfiler.core.charsets import decode_bytes

# Far more than any real Content-Type or Content-Disposition needs (a 255-character
# file name in RFC 2231 percent-encoding is under 3 KB).
VALUE_MAX: Final = 64 * 1024

# RFC 6838 §4.2: a type or subtype name is at most 127 characters.
_TYPE_NAME_MAX: Final = 127
_NAME = rf"([!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{_TYPE_NAME_MAX}}})"  # an RFC 2045 token
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")
UNKNOWN_TYPE: Final = "application/octet-stream"

# A Content-ID is a msg-id (RFC 2392): printable ASCII; quotes, brackets and
# backslashes are left out so it can sit in any attribute. Longer ones are dropped.
CONTENT_ID_MAX: Final = 250
_CONTENT_ID = re.compile(r"[\x21-\x7e]+")
_NOT_IN_CONTENT_ID = re.compile(r"[\"'<>\\]")

_PARAMETER = re.compile(
    r"""
    [\s;]*+
    (?P<name>[^\s;=]++)?+
    \s*+
    (?:=\s*+(?P<value>"(?:[^"\\]++|\\.?)*+"?|[^;]*+))?+
    [^;]*+
    """,
    re.VERBOSE | re.DOTALL,
)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
# RFC 2231 §3-4: "name*2*" is the third section of name, percent-encoded.
_SECTION = re.compile(r"(?P<base>[^*]+)(?:\*(?P<number>\d{1,6}))?(?P<extended>\*)?")


def split_value(text: str) -> tuple[str, dict[str, str]]:
    """("main value", {parameter name: value}) of a header such as Content-Type.

    Names are lower-case; the first of two parameters with one name wins, as
    in the stdlib; RFC 2231 sections are joined and decoded.
    """
    text = text[:VALUE_MAX]
    main, _, rest = text.partition(";")
    plain: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for found in _PARAMETER.finditer(rest):
        name, value = found.group("name"), found.group("value")
        if not name or value is None:
            continue
        name = name.lower()
        quoted = value.startswith('"')
        value = _unquote(value) if quoted else value.strip()
        section = _SECTION.fullmatch(name)
        if section and (section.group("number") is not None or section.group("extended")):
            extended = bool(section.group("extended")) and not quoted
            number = int(section.group("number") or 0)
            sections.setdefault(section.group("base"), []).append((number, extended, value))
        else:
            plain.setdefault(name, value)
    for base, parts in sections.items():
        plain.setdefault(base, _joined(parts))
    return main.strip(), plain


def _unquote(value: str) -> str:
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return inner.replace("\\\\", "\\").replace('\\"', '"')


def _joined(parts: list[tuple[int, bool, str]]) -> str:
    """RFC 2231 sections in order; the first extended one may name a charset."""
    parts.sort(key=lambda part: part[0])
    if not any(extended for _, extended, _ in parts):
        return "".join(value for _, _, value in parts)
    charset: str | None = None
    data = bytearray()
    for index, (_, extended, value) in enumerate(parts):
        if extended:
            if index == 0 and value.count("'") >= 2:
                charset, _, value = value.split("'", 2)
            data += _PERCENT.sub(_byte, value.encode("utf-8", "surrogateescape"))
        else:
            data += value.encode("utf-8", "surrogateescape")
    return decode_bytes(bytes(data), charset or None)[0]


def _byte(found: re.Match[bytes]) -> bytes:
    return bytes([int(found.group(1), 16)])


def media_type(value: str | None) -> str | None:
    """A valid lower-case "type/subtype", or None when ``value`` is not one."""
    found = _MEDIA_TYPE.fullmatch((value or "").strip())
    return f"{found.group(1)}/{found.group(2)}".lower() if found else None


def clean_content_type(value: str | None) -> str:
    """What to store and send back as a file's type: a valid type, or ``UNKNOWN_TYPE``."""
    return media_type(split_value(value or "")[0]) or UNKNOWN_TYPE


def clean_content_id(value: str | None) -> str | None:
    """A Content-ID without its brackets, safe anywhere; None when there is none or it is
    not one (control characters, spaces, over ``CONTENT_ID_MAX`` characters)."""
    text = (value or "").strip().strip("<>").strip()
    if not text or len(text) > CONTENT_ID_MAX or not _CONTENT_ID.fullmatch(text):
        return None
    return _NOT_IN_CONTENT_ID.sub("", text) or None
