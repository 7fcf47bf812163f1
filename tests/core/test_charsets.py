from __future__ import annotations

from mailfiler.core.charsets import codec_for, decode_bytes


def test_declared_charsets_are_used_and_aliases_widened() -> None:
    assert decode_bytes("Grüße".encode("iso-8859-1"), "ISO-8859-1") == ("Grüße", None)
    # Senders mean Windows-1252 when they say Latin-1 (the WHATWG rule): curly quotes survive.
    assert decode_bytes(b"\x93quoted\x94", "iso-8859-1")[0] == "\u201cquoted\u201d"
    assert codec_for("gb2312") == "gb18030"
    assert codec_for("unknown-8bit") is None


def test_wrong_or_missing_charsets_fall_back_and_say_so() -> None:
    text, note = decode_bytes("naïve".encode(), "x-bogus")
    assert text == "naïve" and note and "x-bogus" in note
    text, note = decode_bytes("Crème".encode("cp1252"), "utf-8")
    assert text == "Crème" and note and "Windows-1252" in note
    assert decode_bytes(b"plain ascii", None) == ("plain ascii", None)
    assert decode_bytes("é".encode(), "us-ascii") == ("é", None)
