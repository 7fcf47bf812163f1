"""Attachment file names: cleaned on reading, shortened for the CRM on saving."""

from __future__ import annotations

import mimetypes
import re

from mailfiler.core.limits import ATTACHMENT_NAME_MAX, MAX_KEPT_EXTENSION

# Characters no file system or download dialog accepts, plus controls.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
# Bidirectional controls (Unicode TR 9): "invoice\u202efdp.exe" shows as
# "invoiceexe.pdf". Left out, so the name reads as it is.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Names Windows keeps for devices, whatever follows the first dot ("CON.txt", "nul.tar.gz").
_RESERVED = re.compile(r"(?i)CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]")


def clean_filename(name: str) -> str:
    """A sender's file name made safe to store: no path, no control or reserved characters."""
    # Some mailers send the sender's full path ("C:\\Users\\ann\\report.pdf").
    return safe_name(re.split(r"[\\/]", name)[-1])


def safe_name(text: str) -> str:
    """Any text (a subject, say) made usable as a file name on any desktop."""
    name = " ".join(_UNSAFE.sub("_", _BIDI_CONTROLS.sub("", text)).split()).strip(" .")
    if _RESERVED.fullmatch(name.split(".")[0].rstrip()):
        name = "_" + name  # "_CON.txt": the extension the user sees is kept
    return name


# Parts of delivery reports: text that mimetypes has no extension for.
_TEXT_PARTS = {
    "message/delivery-status": "delivery-status",
    "message/disposition-notification": "read-receipt",
    "text/rfc822-headers": "original-headers",
}


def default_filename(content_type: str, number: int, stem: str = "attachment") -> str:
    """A name for a file its sender did not name: "attachment-2.pdf"."""
    if content_type in _TEXT_PARTS:
        return f"{_TEXT_PARTS[content_type]}-{number}.txt"
    extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"{stem}-{number}{extension}"


def split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) + 1 > MAX_KEPT_EXTENSION or " " in ext:
        return name, ""
    return stem, "." + ext


def shorten(name: str, limit: int = ATTACHMENT_NAME_MAX) -> str:
    """``name`` cut to ``limit`` characters, keeping its extension ("a-long-…name.pdf")."""
    if len(name) <= limit:
        return name
    stem, ext = split_extension(name)
    return stem[: limit - len(ext)].rstrip(" .") + ext


def unique(names: list[str], limit: int = ATTACHMENT_NAME_MAX) -> list[str]:
    """Names made distinct within one record: "report.pdf", "report (2).pdf"."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate = name
        number = 2
        while candidate.lower() in seen:
            stem, ext = split_extension(name)
            suffix = f" ({number}){ext}"
            candidate = stem[: limit - len(suffix)].rstrip(" .") + suffix
            number += 1
        seen.add(candidate.lower())
        result.append(candidate)
    return result
