from __future__ import annotations

from pathlib import Path

from mailfiler.service.sources import find, looks_like_mail, messages


def test_folders_are_walked_and_non_mail_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(b"From: a@example.org\n\nhi\n")
    (tmp_path / ".hidden.eml").write_bytes(b"From: a@example.org\n\nhi\n")
    (tmp_path / "notes.txt").write_text("Shopping list\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"\r\nReceived: from x\nFrom: b@example.org\n\nhi\n")
    found = find([str(tmp_path), str(tmp_path / "missing.eml")])
    assert [p.name for p in found.files] == ["a.eml", "b"]
    assert [p.name for p in found.skipped] == ["notes.txt"]
    assert found.missing == [str(tmp_path / "missing.eml")]


def test_a_single_entry_mbox_keeps_its_name(tmp_path: Path) -> None:
    mbox = tmp_path / "one.mbox"
    mbox.write_bytes(b"From a@b Mon Jan  1 00:00:00 2026\nSubject: x\n\nbody\n")
    [source] = messages(mbox)
    assert source.label == str(mbox) and source.data and source.data.startswith(b"From a@b")
    assert looks_like_mail(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....")
    assert not looks_like_mail(b"%PDF-1.7")
