"""What a sender writes in a part's headers is stored and sent back cleaned, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from mailfiler.connectors.builtin.tables import StoredAttachment
from mailfiler.core.mime import read_rfc5322
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


# Finding 9 of issue 14: bare, the second of these is no dot-atom, and the stdlib's
# header parser failed on it after the first (TypeError, CPython gh-75171).
ODD_COPIES = ["Ann" + "ÿ" * 26 + ".archer@work.example", ".archer@work.example"]


def test_a_composed_message_with_odd_copy_addresses_is_read_and_saved_as_eml(api: Api) -> None:
    headers = api.sign_in()
    composed = {
        "from": {"address": "jdoe@acme.example", "name": "Jane Doe"},
        "to": [{"address": "bob@members.example", "name": "Bob"}],
        "cc": [{"address": address} for address in ODD_COPIES],
        "subject": "Odd copies",
        "text_body": "Hello",
    }
    read = api.client.post("/api/v1/messages", json=composed, headers=headers)
    assert read.status_code == 201, read.text
    copies = [(p["address"], p["status"]) for p in read.json()["participants"] if p["role"] == "cc"]
    assert copies == [(address, "no_contact") for address in ODD_COPIES]
    saved = api.client.post(
        f"/api/v1/messages/{read.json()['message_ref']}/interactions",
        json={"eml": True},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert [(r["contact_id"], r["status"]) for r in saved.json()["results"]] == [("102", "saved")]
    [record] = api.org.records("102")
    [eml] = record.attachments
    with api.org.service.unit(reading=True) as session:
        back = read_rfc5322(api.org.service.blobs.get(session, eml.sha256) or b"")
    assert [a.address for a in back.cc] == ODD_COPIES


@pytest.mark.parametrize("copy", [".archer@work.example", "archer.@work.example", "a..b@x.example"])
def test_a_dot_out_of_place_in_any_position_of_a_line_is_never_a_server_error(
    api: Api, copy: str
) -> None:
    headers = api.sign_in()
    for cc in ([copy, "bob@members.example"], ["bob@members.example", copy]):
        composed = {"cc": [{"address": address, "name": ""} for address in cc]}
        read = api.client.post("/api/v1/messages", json=composed, headers=headers)
        assert read.status_code == 201, read.text
        assert [p["address"] for p in read.json()["participants"] if p["role"] == "cc"] == cc
