"""What a sender writes in a part's headers is stored and sent back cleaned, on both databases."""

from __future__ import annotations

from sqlalchemy import update

from mailfiler.connectors.builtin.tables import StoredAttachment
from tests.api.conftest import Api

PNG = (
    b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAA"
    b"AABJRU5ErkJggg=="
)


def _hostile(part_type: bytes, content_id: bytes, name: bytes) -> bytes:
    return (
        b"From: Ann <ann@members.example>\r\nTo: bob@members.example\r\nSubject: logo\r\n"
        b"Message-ID: <hostile-" + name + b"@x>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/related; boundary=b\r\n\r\n"
        b'--b\r\nContent-Type: text/html\r\n\r\n<p>Logo:</p><img src="cid:logo@x">\r\n'
        b"--b\r\nContent-Type: " + part_type + b"\r\nContent-ID: " + content_id + b"\r\n"
        b'Content-Disposition: inline; filename="' + name + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + PNG + b"\r\n--b--\r\n"
    )


def _file_and_download(api: Api, data: bytes) -> tuple[dict[str, object], bytes, dict[str, str]]:
    headers = api.sign_in()
    read = api.client.post(
        "/api/v1/messages", content=data, headers={**headers, "Content-Type": "message/rfc822"}
    )
    assert read.status_code == 201, read.text
    saved = api.client.post(
        f"/api/v1/messages/{read.json()['message_ref']}/interactions", json={}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    assert {r["status"] for r in saved.json()["results"]} == {"saved"}
    contact = api.client.get("/api/v1/contacts/101", headers=headers)
    assert contact.status_code == 200
    [file] = contact.json()["timeline"]["items"][0]["attachments"]  # the newest
    download = api.client.get(file["url"], headers=headers)
    assert download.status_code == 200
    return file, download.content, dict(download.headers)


def test_a_type_outside_latin_1_or_folded_downloads_as_octet_stream(api: Api) -> None:
    for part_type, name in [("image/pngé".encode(), b"a.png"), (b"image/\r\n png", b"b.png")]:
        file, content, headers = _file_and_download(api, _hostile(part_type, b"<logo@x>", name))
        assert file["content_type"] == headers["content-type"] == "application/octet-stream"
        assert content.startswith(b"\x89PNG")


def test_values_over_any_column_are_stored_the_same_on_both_databases(api: Api) -> None:
    file, content, headers = _file_and_download(
        api, _hostile(b"image/" + b"x" * 300, b"<" + b"c" * 300 + b"@x>", b"CON.png")
    )
    assert file["content_type"] == "application/octet-stream"
    assert file["content_id"] is None
    assert file["filename"] == "_CON.png"
    assert content.startswith(b"\x89PNG")
    assert "filename*=UTF-8''_CON.png" in headers["content-disposition"]


def test_a_row_stored_before_values_were_cleaned_still_downloads(api: Api) -> None:
    file, _, _ = _file_and_download(api, _hostile(b"image/png", b"<logo@x>", b"logo.png"))
    with api.org.service.unit() as session:
        session.execute(
            update(StoredAttachment)
            .where(StoredAttachment.id == int(str(file["id"])))
            .values(content_type="image/png\r\n evil: yes", content_id="lo go\x01")
        )
    headers = api.sign_in()
    [item] = api.client.get("/api/v1/contacts/101", headers=headers).json()["timeline"]["items"]
    [stored] = item["attachments"]
    assert stored["content_type"] == "application/octet-stream" and stored["content_id"] is None
    download = api.client.get(stored["url"], headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert "evil" not in download.headers
