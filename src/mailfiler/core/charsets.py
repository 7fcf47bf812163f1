"""Turning message bytes into text when the declared charset is missing or wrong.

Mail in the wild often lies about its charset: "us-ascii" on UTF-8 text,
"iso-8859-1" on Windows-1252 quotes, names Python does not know. We decode
with what is declared, fall back to UTF-8 and then Windows-1252 (which maps
every byte that matters), and say what we did so `inspect` can show it.
"""

from __future__ import annotations

import codecs

# Labels mail uses that Python either lacks or maps to a narrower charset than
# the senders meant (the same choices as the WHATWG Encoding Standard).
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "ansi_x3.4-1968": "ascii",
}

# Codecs Python counts as text encodings that no mail is written in: they
# fail on ordinary bytes ("undefined" always) or read escapes as text.
_NOT_CHARSETS = {"undefined", "punycode", "idna", "raw-unicode-escape", "unicode-escape"}

# Labels that declare nothing useful.
_UNKNOWN = {"", "unknown", "unknown-8bit", "x-unknown", "default", "x-user-defined", "charset"}


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when there is none."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # unknown, or a NUL in the label
        return None
    # Python also has codecs that are not character sets (base64, zlib, rot13,
    # punycode...): a sender naming one gets the fallback, not its behaviour.
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(raw: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode ``raw`` as ``label`` says; return the text and a note when we had to guess."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return raw.decode(codec), None
        except (UnicodeError, ValueError):  # UnicodeError: what some decoders raise instead
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
        guessed = "Windows-1252"
    else:
        guessed = "UTF-8"
    if codec is None and label is None:
        if raw.isascii():
            return text, None
        return text, f"text without a declared charset was read as {guessed}"
    if codec is None:
        return text, f"unknown charset {label!r} was read as {guessed}"
    if codec == "ascii":
        # 8-bit bytes under a us-ascii label are the commonest lie; not worth a warning.
        return text, None
    return text, f"text declared as {label} did not decode as such and was read as {guessed}"
