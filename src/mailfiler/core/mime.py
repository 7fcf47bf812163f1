"""Reading RFC 5322 / MIME messages in one pass over their bytes.

The stdlib ``email`` package is our reference for what a message means, and
it reads every header here (see ``headers.py``). Its body parser, though,
keeps a 100 MB message several times over as lists of line strings (7x the
message size in memory, 22 MB/s, measured in ``bench/``). So bodies are split
here instead: boundaries are found with ``bytes.find`` over the original
buffer, parts are kept as offsets into it, and a part's payload is decoded
straight from a ``memoryview`` slice. The only copy made of a large part is
its decoded content.

Where a message breaks the rules, we do what the stdlib does (a missing
closing boundary ends the part at the end of the message; a multipart with no
boundary is read as text) and add a note saying so.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from mailfiler.core.body import part_html
from mailfiler.core.charsets import decode_bytes
from mailfiler.core.contain import Contain, run_inline
from mailfiler.core.filenames import clean_filename, default_filename, safe_name
from mailfiler.core.headers import Headers
from mailfiler.core.limits import HEADER_SECTION_MAX, MIME_DEPTH_MAX, PARTS_MAX
from mailfiler.core.mime_params import clean_content_id
from mailfiler.errors import InvalidMessage

from . import tnef
from .message import Attachment, BodyPart, Message

LF, CR = 0x0A, 0x0D

# A header line, a continuation line or an mbox "From " line: the same test
# the stdlib feed parser uses to decide where the header section ends.
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*[ \t]*:|[ \t]")
# RFC 5322 §4.5: the obsolete syntax allows white space before the colon.
_OBSOLETE_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.MULTILINE)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")

_BODY_TYPES = ("text/plain", "text/html")
_ALTERNATIVE_RENDITIONS = ("text/plain", "text/html", "text/enriched", "text/richtext")
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
# Headers RFC 5322 §3.6 allows once; a second one is ignored, with a note.
_ONE_ONLY = ("from", "sender", "to", "cc", "bcc", "subject", "date", "message-id")


@dataclass(frozen=True)
class _Entity:
    """A MIME entity: its headers and where its body lies in the message buffer."""

    headers: Headers
    start: int
    end: int


def read_rfc5322(data: bytes, contain: Contain = run_inline) -> Message:
    """Read one RFC 5322 message; raise ``InvalidMessage`` when it is not one."""
    return _Reader(data, contain).message()


def top_headers(data: bytes) -> Headers:
    """The message's own header section, the rest unread (as ``read_rfc5322`` reads it)."""
    return _Reader(data, run_inline).entity(0, len(data), "text/plain").headers


class _Reader:
    def __init__(self, data: bytes, contain: Contain) -> None:
        self.data = data
        self.contain = contain
        self.notes: list[str] = []
        self.attachments: list[Attachment] = []
        self.tnef_body: list[BodyPart] = []
        self.parts = 0  # MIME entities read so far

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- the message ----------------------------------------------------------

    def message(self) -> Message:
        top = self.entity(0, len(self.data), "text/plain")
        if len(top.headers) == 0:
            raise InvalidMessage(
                "no message headers found at the start of the file: this is not an email message"
            )
        headers = top.headers
        if headers.guessed_charset:
            self.note("headers with 8-bit text that is not UTF-8 were read as Windows-1252")
        # A part with nothing but white space (an empty alternative, a stray
        # preamble read as text) adds nothing to a record.
        body = [p for p in self.walk(top, 0) if (p.html or p.text or "").strip()]
        if not body and self.tnef_body:
            body = self.tnef_body
        sender = headers.addresses("from") or headers.addresses("sender")
        to, cc, bcc = headers.addresses("to"), headers.addresses("cc"), headers.addresses("bcc")
        for name in _ONE_ONLY:
            if extra := headers.repeated(name):
                self.note(
                    f"the message has {extra + 1} {name.title()}: lines; only the first was "
                    f"read and the other{'s' if extra > 1 else ''} ignored (RFC 5322 allows one)"
                )
        for name, entry in headers.not_addresses:
            self.note(f"{name.title()}: {entry!r} is not an email address, so it is left out")
        for sentence in headers.cut:
            self.note(sentence)
        return Message(
            subject=headers.text("subject"),
            sender=sender,
            to=to,
            cc=cc,
            bcc=bcc,
            date=headers.date,
            message_id=headers.message_id,
            body=tuple(body),
            attachments=tuple(self.attachments),
            original=self.data,
            format="eml",
            notes=tuple(self.notes),
        )

    # -- structure ------------------------------------------------------------

    def entity(self, start: int, end: int, default_type: str) -> _Entity:
        self.parts += 1
        header_end, body_start = self.split(start, end)
        raw = _OBSOLETE_NAME.sub(rb"\1:", self.data[start:header_end])
        headers = Headers(raw, default_type)
        return _Entity(headers, body_start, end)

    def split(self, start: int, end: int) -> tuple[int, int]:
        """Where the header section ends and where the body starts (RFC 5322 §2.1)."""
        data = self.data
        pos = start
        while pos < end:
            if pos - start > HEADER_SECTION_MAX:
                raise InvalidMessage("the header section is over 4 MB long: this is not email")
            newline = data.find(b"\n", pos, end)
            line_end = end if newline < 0 else newline + 1
            if data[pos] == LF or (data[pos] == CR and pos + 1 < end and data[pos + 1] == LF):
                return pos, line_end
            if not _HEADER_LINE.match(data, pos, line_end):
                # No blank line before the body: the stdlib starts the body here too.
                return pos, pos
            pos = line_end
        return end, end

    def children(self, entity: _Entity, subtype: str) -> list[_Entity] | None:
        """The parts of a multipart entity (RFC 2046 §5.1.1), or None when it has none."""
        boundary = entity.headers.param("boundary")
        if not boundary:
            self.note("a multipart part has no boundary and was read as text")
            return None
        delimiters = list(self.delimiters(boundary.encode("utf-8"), entity.start, entity.end))
        if not delimiters:
            self.note("a multipart part has no boundary lines and was read as text")
            return None
        default_type = "message/rfc822" if subtype == "digest" else "text/plain"
        parts: list[_Entity] = []
        for index, (_, part_start, closing) in enumerate(delimiters):
            if closing:
                break
            if self.parts >= PARTS_MAX:
                self.note(f"the message has over {PARTS_MAX:,} parts: only the first were read")
                return parts
            if index + 1 < len(delimiters):
                part_end = self.trim_line_break(part_start, delimiters[index + 1][0])
            else:
                part_end = entity.end
            parts.append(self.entity(part_start, part_end, default_type))
        if not delimiters[-1][2]:
            self.note("the message ends before its closing MIME boundary; the last part was kept")
        return parts

    def delimiters(self, boundary: bytes, start: int, end: int) -> list[tuple[int, int, bool]]:
        """(line start, next line start, closing?) of each boundary line, to the closing one."""
        data = self.data
        needle = b"--" + boundary
        found: list[tuple[int, int, bool]] = []
        pos = start
        while True:
            at = data.find(needle, pos, end)
            if at < 0:
                return found
            pos = at + 1
            if at > 0 and data[at - 1] != LF:
                continue
            cursor = at + len(needle)
            closing = data.startswith(b"--", cursor, end)
            # RFC 2046 §5.1.1 lets text follow a boundary on its line. We accept it
            # after "--" or white space only: "--b1_alt" is another boundary, not "b1".
            if not closing and cursor < end and data[cursor] not in b" \t\r\n":
                continue
            newline = data.find(b"\n", cursor, end)
            line_end = end if newline < 0 else newline + 1
            found.append((at, line_end, closing))
            if closing or len(found) > PARTS_MAX:
                return found
            pos = line_end

    def trim_line_break(self, start: int, at: int) -> int:
        """The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1)."""
        if at > start and self.data[at - 1] == LF:
            at -= 1
        if at > start and self.data[at - 1] == CR:
            at -= 1
        return at

    # -- meaning --------------------------------------------------------------

    def walk(self, entity: _Entity, depth: int) -> list[BodyPart]:
        """The body parts under ``entity``; files found on the way go to ``attachments``."""
        headers = entity.headers
        content_type = headers.content_type
        maintype, _, subtype = content_type.partition("/")
        if depth > MIME_DEPTH_MAX:
            self.note(f"parts nested more than {MIME_DEPTH_MAX} deep were kept as files")
            self.attach(entity)
            return []
        if maintype == "multipart":
            parts = self.children(entity, subtype)
            if parts is None:
                return [self.text_part(entity, "text/plain")]
            if not parts:  # a closing boundary first, or the part limit reached
                return []
            if subtype == "alternative":
                return self.alternative(parts, depth)
            if subtype == "related":
                return self.related(entity, parts, depth)
            return [p for part in parts for p in self.walk(part, depth + 1)]
        if content_type in ("message/rfc822", "message/global"):
            self.attach_message(entity)
            return []
        if content_type in _BODY_TYPES and self.is_body(entity):
            return [self.text_part(entity, content_type)]
        if content_type in _TNEF_TYPES or headers.filename.lower() == "winmail.dat":
            self.expand_tnef(entity)
            return []
        self.attach(entity)
        return []

    @staticmethod
    def is_body(entity: _Entity) -> bool:
        return entity.headers.disposition != "attachment" and not entity.headers.filename

    def alternative(self, parts: list[_Entity], depth: int) -> list[BodyPart]:
        """RFC 2046 §5.1.4: the last part we can show is the best; keep an HTML and a text one."""
        rich = [p for p in parts if p.headers.content_type in ("text/html",)
                or p.headers.content_type.startswith("multipart/")]  # fmt: skip
        plain = [p for p in parts if p.headers.content_type == "text/plain"]
        if not rich and not plain:
            return [q for part in parts for q in self.walk(part, depth + 1)]
        chosen_rich = rich[-1] if rich else None
        chosen_plain = plain[-1] if plain else None
        for part in parts:
            if part is chosen_rich or part is chosen_plain:
                continue
            content_type = part.headers.content_type
            if content_type not in _ALTERNATIVE_RENDITIONS and not content_type.startswith(
                "multipart/"
            ):
                self.walk(part, depth + 1)  # a calendar invitation and the like: keep the file
        html_parts = self.walk(chosen_rich, depth + 1) if chosen_rich else []
        text_parts = self.walk(chosen_plain, depth + 1) if chosen_plain else []
        html = "\n".join(part_html(p) for p in html_parts) if html_parts else None
        texts = [p.text for p in text_parts if p.text is not None]
        text = "\n".join(texts) if texts else None
        if html is None and text is None:
            return []
        return [BodyPart(html=html, text=text)]

    def related(self, entity: _Entity, parts: list[_Entity], depth: int) -> list[BodyPart]:
        """RFC 2387: the root part is the body, the others are resources it links by Content-ID."""
        start = clean_content_id(entity.headers.param("start"))
        root = next((p for p in parts if start and p.headers.content_id == start), parts[0])
        body = self.walk(root, depth + 1)
        for part in parts:
            if part is not root:
                self.resources(part, depth + 1)
        return body

    def resources(self, entity: _Entity, depth: int) -> None:
        content_type = entity.headers.content_type
        if content_type.startswith("multipart/") and depth <= MIME_DEPTH_MAX:
            for part in self.children(entity, content_type.partition("/")[2]) or []:
                self.resources(part, depth + 1)
        elif content_type in ("message/rfc822", "message/global"):
            self.attach_message(entity)
        else:
            self.attach(entity, inline=True)

    # -- leaves ---------------------------------------------------------------

    def payload(self, entity: _Entity) -> bytes:
        """The part's content with its Content-Transfer-Encoding (RFC 2045 §6) undone."""
        view = memoryview(self.data)[entity.start : entity.end]
        encoding = entity.headers.transfer_encoding
        if encoding == "base64":
            return _base64(view)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(view)
        if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
            return _uudecode(bytes(view))
        return bytes(view)

    def text_part(self, entity: _Entity, content_type: str) -> BodyPart:
        text, note = decode_bytes(self.payload(entity), entity.headers.charset)
        if note:
            self.note(note)
        # A NUL means nothing in text, and no PostgreSQL column can hold one.
        text = text.replace("\r\n", "\n").replace("\x00", "")
        if content_type == "text/html":
            return BodyPart(html=text)
        return BodyPart(text=text)

    def attach(self, entity: _Entity, inline: bool = False) -> None:
        headers = entity.headers
        content_type = headers.file_type
        name = clean_filename(headers.filename)
        if not name:
            stem = "image" if content_type.startswith("image/") else "attachment"
            name = default_filename(content_type, len(self.attachments) + 1, stem)
        self.attachments.append(
            Attachment(
                filename=name,
                content_type=content_type,
                data=self.payload(entity),
                content_id=headers.content_id,
                inline=inline or headers.disposition == "inline",
            )
        )

    def attach_message(self, entity: _Entity) -> None:
        """A forwarded message is kept whole, as the .eml file its recipient would save."""
        data = self.payload(entity)
        name = clean_filename(entity.headers.filename)
        if not name:
            subject = _subject_of(data)
            name = (safe_name(subject) or "forwarded message") + ".eml"
        self.attachments.append(
            Attachment(
                filename=name,
                content_type="message/rfc822",
                data=data,
                content_id=entity.headers.content_id,
            )
        )

    def expand_tnef(self, entity: _Entity) -> None:
        """Outlook's winmail.dat (MS-OXTNEF): file what it carries, not the wrapper."""
        data = self.payload(entity)
        try:
            content = self.contain(tnef.expand, data)
        except InvalidMessage as error:
            self.note(f"winmail.dat could not be expanded ({error}); it is kept as a file")
            self.attach(entity)
            return
        self.attachments.extend(content.attachments)
        self.tnef_body.extend(content.body)
        self.note(f"winmail.dat was expanded into {len(content.attachments)} file(s)")


def _base64(view: memoryview) -> bytes:
    try:
        return binascii.a2b_base64(view)
    except binascii.Error:
        # Broken padding or stray characters: decode what is there, as mail clients do.
        cleaned = _NOT_BASE64.sub(b"", bytes(view))
        if len(cleaned) % 4 == 1:
            cleaned = cleaned[:-1]
        return binascii.a2b_base64(cleaned + b"=" * (-len(cleaned) % 4))


def _uudecode(raw: bytes) -> bytes:
    out = bytearray()
    lines = iter(raw.splitlines())
    for line in lines:
        if line.startswith(b"begin "):
            break
    for line in lines:
        if line.strip() in (b"end", b"`"):
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Workaround for broken uuencoders, as in the stdlib (email.message).
            length = ((line[0] - 32) & 63) * 4 // 3 if line else 0
            out += binascii.a2b_uu(line[:length])
    return bytes(out)


def _subject_of(data: bytes) -> str:
    end = data.find(b"\n\n")
    end2 = data.find(b"\r\n\r\n")
    cut = min(e for e in (end, end2, len(data)) if e >= 0)
    return Headers(data[: min(cut, HEADER_SECTION_MAX)]).text("subject")
