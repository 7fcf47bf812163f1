"""Reading a message, reviewing it and saving it by reference (POST /messages and friends)."""

from __future__ import annotations

import base64
import json
import select
import socket
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mailfiler.api.app import create_app
from mailfiler.config import Settings
from mailfiler.service import Service, uploads
from tests.api.conftest import Api
from tests.conftest import corpus_path, fixture_bytes, new_org, serving


def test_reading_a_message_answers_the_contract(api: Api) -> None:
    headers = api.sign_in()
    body = api.read("ambiguous.eml", headers)
    assert set(body) >= {
        "message_ref",
        "subject",
        "date",
        "sender",
        "participants",
        "attachments",
        "actions",
        "activity_types",
    }
    assert body["subject"] == "Family membership"
    assert body["sender"] == {"address": "shared@family.example", "name": "The Evans family"}
    shared, ann, nobody = body["participants"]
    assert set(shared) >= {"role", "address", "name", "status", "self", "reason", "contacts"}
    assert (shared["role"], shared["status"]) == ("from", "ambiguous")
    assert [c["id"] for c in shared["contacts"]] == ["104", "105"]
    assert set(shared["contacts"][0]) >= {"id", "full_name", "organization", "profile_url"}
    assert (ann["status"], ann["contacts"][0]["full_name"]) == ("would_save", "Ann Archer")
    assert nobody["status"] == "no_contact" and "No contact" in nobody["reason"]
    assert body["actions"]["interaction"] == {"state": "allowed", "reason": ""}
    assert body["actions"]["add_contact"]["state"] == "hidden"
    [email] = body["activity_types"]
    fields = {f["name"]: f["value"] for f in email["fields"]}
    assert fields["DESCRIPTION"] == "Family membership" and email["default"]


def test_attachments_are_listed_with_the_names_they_will_be_saved_under(api: Api) -> None:
    body = api.read("long-lines.eml", api.sign_in())
    files = {(a["name"], a["saved_as"], a["status"]) for a in body["attachments"]}
    assert ("empty-notes.txt", None, "empty") in files
    assert (
        "Board-meeting-papers-for-the-November-2026-session-final-version.pdf",
        "Board-meeting-papers-for-the-November-2026-ses.pdf",
        "would_save",
    ) in files
    assert {a["id"] for a in body["attachments"]} == {"0", "1", "2", "3"}


def test_saving_by_reference_with_the_users_choices(api: Api) -> None:
    headers = api.sign_in()
    body = api.read("long-lines.eml", headers)
    ref = body["message_ref"]
    answer = api.client.post(
        f"/api/v1/messages/{ref}/interactions",
        json={"contact_ids": ["101", "106"], "attachment_ids": ["0"], "eml": False},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["contact_id"], r["status"]) for r in results] == [("101", "saved"), ("106", "saved")]
    assert all(r["record_id"] for r in results)
    records = api.org.records()
    assert sorted(r.contact_id for r in records) == ["101", "106"]
    assert [f.filename for f in records[0].attachments] == [
        "Board-meeting-papers-for-the-November-2026-ses.pdf"
    ]
    # The save in one line, in the server's words: the pane keeps no count of its own.
    assert answer.json()["summary"].startswith("2 saved, ")
    again_answer = api.client.post(
        f"/api/v1/messages/{ref}/interactions", json={"contact_ids": ["101"]}, headers=headers
    ).json()
    again = again_answer["results"]
    assert again[0]["status"] == "duplicate" and again[0]["record_id"] == results[0]["record_id"]
    assert again[0]["filed"] is True
    assert again_answer["summary"].startswith("0 saved, 1 already saved, ")


def test_a_pick_for_a_shared_address_and_a_contact_added_by_search(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("ambiguous.eml", headers)["message_ref"]
    answer = api.client.post(
        f"/api/v1/messages/{ref}/interactions",
        json={"contact_ids": ["101", "112"], "picks": {"shared@family.example": "105"}},
        headers=headers,
    ).json()["results"]
    assert [(r["contact_id"], r["status"]) for r in answer] == [
        ("101", "saved"),
        ("112", "saved"),
        ("105", "saved"),
    ]
    assert "added by you" in answer[1]["reason"]
    unknown = api.client.post(
        f"/api/v1/messages/{ref}/interactions", json={"contact_ids": ["999"]}, headers=headers
    ).json()["results"]
    assert unknown == [
        {
            "contact_id": "999",
            "status": "no_contact",
            "label": "no contact",  # the status's words and tone come with it
            "tone": "bad",
            "filed": False,
            "record_id": None,
            "reason": "No contact 999 was found",
        },
    ]


def test_saving_as_activities_with_an_edited_form_and_as_eml(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("inline-image.eml", headers)["message_ref"]
    answer = api.client.post(
        f"/api/v1/messages/{ref}/activities",
        json={
            "contact_ids": ["101", "107"],
            "eml": True,
            "activity": {"type": "EMAIL", "fields": {"DESCRIPTION": "Logo for the newsletter"}},
        },
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    assert {r["status"] for r in saved["results"]} == {"saved"}
    assert saved["eml"]["saved_as"] == "Newsletter draft.eml"
    assert {a["status"] for a in saved["attachments"]} == {"in_eml"}
    [record] = [r for r in api.org.records("107") if r.kind == "activity"]
    assert record.fields["DESCRIPTION"] == "Logo for the newsletter"
    assert [f.filename for f in record.attachments] == ["Newsletter draft.eml"]
    bad = api.client.post(
        f"/api/v1/messages/{ref}/activities",
        json={"activity": {"type": "EMAIL", "fields": {"NOPE": "x"}}},
        headers=headers,
    )
    assert bad.status_code == 400 and "has no field NOPE" in bad.json()["detail"]


def test_uploading_files_outlook_msg_included(api: Api) -> None:
    headers = api.sign_in()
    msg = (corpus_path() / "apache-poi" / "hsmf" / "example_received_regular.msg").read_bytes()
    answer = api.client.post(
        "/api/v1/messages",
        files={"file": ("mail.msg", msg, "application/vnd.ms-outlook")},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["subject"] == "This is a test message please ignore"
    assert body["attachments"][0]["name"] == "alfresco.gif"
    eml = api.client.post(
        "/api/v1/messages",
        files={"file": ("a.eml", fixture_bytes("forwarded.eml"))},
        headers=headers,
    )
    assert eml.json()["attachments"][0]["name"] == "Invoice 2026-11.eml"


def _composed(**extra: Any) -> dict[str, Any]:
    return {
        "from": {"address": "jdoe@acme.example", "name": "Jane Doe"},
        "to": [{"address": "bob@members.example", "name": "Bob"}],
        "cc": [{"address": "Grace@Ito.example"}],
        "bcc": [{"address": "ann.archer@work.example"}],
        "subject": "Conference places",
        "html_body": "<p>Booked.</p>",
        "attachments": [
            {
                "name": "programme.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(b"%PDF-1.4 programme").decode(),
            },
        ],
        **extra,
    }


def test_a_message_being_composed_shows_bcc_and_saves_its_attachments(api: Api) -> None:
    headers = api.sign_in()
    body = api.client.post("/api/v1/messages", json=_composed(), headers=headers).json()
    assert body["mode"] == "compose"
    lines = [(p["role"], p["address"], p["status"], p["self"]) for p in body["participants"]]
    assert lines == [
        ("from", "jdoe@acme.example", "excluded", True),
        ("to", "bob@members.example", "would_save", False),
        ("cc", "Grace@Ito.example", "would_save", False),
        ("bcc", "ann.archer@work.example", "would_save", False),
    ]
    saved = api.client.post(
        f"/api/v1/messages/{body['message_ref']}/interactions", json={}, headers=headers
    ).json()
    assert [r["status"] for r in saved["results"]] == ["saved", "saved", "saved"]
    [record] = api.org.records("102")
    assert [f.filename for f in record.attachments] == ["programme.pdf"]


def test_a_message_given_by_its_fields_is_kept_as_them_and_its_eml_written_when_saved(
    api: Api,
) -> None:
    """No .eml is written for a message the pane sends as its fields (and read back in a
    reader process): it is kept as the fields it came as, read as a message directly, and
    an .eml is written only for a save that asks for one."""
    headers = api.sign_in()
    read = api.client.post("/api/v1/messages", json=_composed(), headers=headers).json()
    service = api.org.service
    with service.unit() as session:
        key = uploads.signing_key(session)
    org, user, _ = read["message_ref"].split(".", 2)
    upload = uploads.find(key, int(org), int(user), read["message_ref"])
    kept = json.loads(service.incoming.get(upload))
    assert upload.form == "fields" and kept["subject"] == "Conference places"
    again = api.client.get(f"/api/v1/messages/{read['message_ref']}", headers=headers).json()
    assert [p["address"] for p in again["participants"]] == [
        p["address"] for p in read["participants"]
    ]  # read again from what was kept: the same message
    api.client.post(
        f"/api/v1/messages/{read['message_ref']}/interactions",
        json={"contact_ids": ["102"], "eml": True},
        headers=headers,
    )
    [record] = api.org.records("102")
    [eml] = [f for f in record.attachments if f.filename.endswith(".eml")]
    data = api.client.get(f"/api/v1/attachments/{eml.id}", headers=headers).content
    written = BytesParser(policy=policy.default).parsebytes(data)
    assert written["Subject"] == "Conference places"
    assert "bob@members.example" in written["To"] and "Grace@Ito.example" in written["Cc"]


def test_when_attachments_cannot_be_had_the_email_is_saved_and_the_user_told(api: Api) -> None:
    headers = api.sign_in()
    body = api.client.post(
        "/api/v1/messages",
        json=_composed(attachments=[], attachments_unavailable=True),
        headers=headers,
    ).json()
    assert body["attachments_missing"] and "without them" in body["attachments_note"]
    saved = api.client.post(
        f"/api/v1/messages/{body['message_ref']}/interactions", json={}, headers=headers
    ).json()
    assert {r["status"] for r in saved["results"]} == {"saved"}
    assert "without them" in saved["attachments_note"]


def test_a_broken_message_is_a_4xx_naming_the_reason_and_writes_nothing(api: Api) -> None:
    headers = api.sign_in()
    answer = api.client.post(
        "/api/v1/messages",
        content=b"%PDF-1.4 not mail",
        headers={**headers, "Content-Type": "message/rfc822"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "not an email message" in answer.json()["detail"]
    bad_base64 = api.client.post(
        "/api/v1/messages",
        json=_composed(attachments=[{"name": "x.bin", "content_base64": "***"}]),
        headers=headers,
    )
    assert bad_base64.status_code == 422 and "base64" in bad_base64.json()["detail"]
    assert api.org.records() == []


def test_a_message_over_the_limit_is_413_before_it_is_read_whole(api: Api) -> None:
    headers = api.sign_in()
    service = api.client.app.state.service  # type: ignore[attr-defined]
    limit = service.settings.max_message_bytes
    declared = api.client.post(
        "/api/v1/messages",
        content=b"x",
        headers={**headers, "Content-Type": "message/rfc822", "Content-Length": str(limit + 1)},
    )
    assert declared.status_code == 413

    sent = 0

    def stream():  # type: ignore[no-untyped-def]
        nonlocal sent
        chunk = b"x" * (1024 * 1024)
        for _ in range(limit // len(chunk) + 10):
            sent += len(chunk)
            yield chunk

    streamed = api.client.post(
        "/api/v1/messages", content=stream(), headers={**headers, "Content-Type": "message/rfc822"}
    )
    assert streamed.status_code == 413 and "limit" in streamed.json()["detail"]


def test_an_opened_message_survives_a_restart_of_the_cache(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("text-only.eml", headers)["message_ref"]
    api.client.app.state.service.messages = type(api.client.app.state.service.messages)()  # type: ignore[attr-defined]
    review = api.client.get(f"/api/v1/messages/{ref}", headers=headers)
    assert review.status_code == 200 and review.json()["subject"].startswith("Plain text")
    saved = api.client.post(f"/api/v1/messages/{ref}/interactions", json={}, headers=headers)
    assert {r["status"] for r in saved.json()["results"]} == {"saved"}


def test_roles_hide_and_edition_refuse_the_save_buttons(api: Api) -> None:
    api.org.set_options(edition="professional", hide_interaction=True)
    headers = api.sign_in()
    body = api.read("text-only.eml", headers)
    assert body["actions"]["interaction"]["state"] == "hidden"
    assert body["actions"]["activity"] == {
        "state": "refused",
        "reason": "Your organisation's edition (iMIS EMS Professional) cannot save Activities",
    }
    assert body["activity_types"] == []
    refused = api.client.post(
        f"/api/v1/messages/{body['message_ref']}/activities", json={}, headers=headers
    ).json()["results"]
    assert {r["status"] for r in refused} == {"not_permitted"}
    assert api.org.records() == []


def test_a_message_written_to_addresses_outside_ascii_is_read_and_saved(api: Api) -> None:
    headers = api.sign_in()
    composed = _composed(to=[{"address": "carla@bücher.example", "name": "Carla Díaz"}], cc=[])
    read = api.client.post("/api/v1/messages", json=composed, headers=headers)
    assert read.status_code == 201, read.text
    [carla] = [p for p in read.json()["participants"] if p["role"] == "to"]
    assert carla["address"] == "carla@bücher.example"
    assert [c["id"] for c in carla["contacts"]] == ["103"]
    saved = api.client.post(
        f"/api/v1/messages/{read.json()['message_ref']}/interactions",
        json={"contact_ids": ["103"], "eml": True},
        headers=headers,
    ).json()["results"]
    assert [(r["contact_id"], r["status"]) for r in saved] == [("103", "saved")]


@pytest.mark.parametrize(
    "address", ["bob@members.example>, eve@x.example", "bob@x.example\r\nBcc: eve@x.example"]
)
def test_an_address_that_would_change_the_written_line_is_refused(api: Api, address: str) -> None:
    composed = _composed(to=[{"address": address}])
    answer = api.client.post("/api/v1/messages", json=composed, headers=api.sign_in())
    assert answer.status_code == 422
    assert "The To line holds" in answer.json()["detail"]


@pytest.mark.parametrize(
    "body", ["[null, null]", '{"to": "bob"}', '{"subject": 3, "extra": 1}', "{"]
)
def test_fields_of_a_message_that_are_not_the_schema_are_a_422_naming_them(
    api: Api, body: str
) -> None:
    answer = api.client.post(
        "/api/v1/messages",
        content=body,
        headers={**api.sign_in(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid-request" and answer.json()["detail"]


@pytest.mark.parametrize("kind", ["message/rfc822", "multipart/form-data", "application/json"])
def test_a_body_over_the_limit_is_refused_as_it_arrives_not_when_whole(
    kind: str, tmp_path: Path
) -> None:
    limit = 2**20
    service = Service(
        Settings(f"sqlite:///{tmp_path / 'small.db'}", tmp_path / "blobs", max_message_bytes=limit)
    )
    service.migrate()
    org = new_org(service)
    with serving(create_app(service.settings, service)) as base:
        signed = httpx2.post(
            f"{base}/api/v1/session",
            json={"cloud_id": org.cloud_id, "username": "jdoe", "password": "jdoe-password"},
        )
        head = (
            f"POST /api/v1/messages HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            f"Authorization: Bearer {signed.json()['token']}\r\n"
            f"Content-Type: {kind}; boundary=cut\r\n\r\n"
        ).encode()
        opening = {
            "multipart/form-data": b'--cut\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.eml"\r\n\r\nSubject: big\r\n\r\n',
            "application/json": b'{"subject": "big", "text_body": "',
            "message/rfc822": b"Subject: big\r\n\r\n",
        }[kind]
        sent, everything = 0, 64 * limit  # far more than any buffer between the two
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as client:
            client.sendall(head + b"%x\r\n%s\r\n" % (len(opening), opening))
            chunk = b"%x\r\n%s\r\n" % (2**16, b"x" * 2**16)
            while sent < everything and not select.select([client], [], [], 0)[0]:
                try:
                    client.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += 2**16
            assert sent < 16 * limit, "no answer yet after 16 times the limit"
            client.settimeout(30)
            answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"the limit of 1 MiB" in answer
    service.close()
