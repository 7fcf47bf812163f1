"""Contacts over HTTP: search, add (by role), timeline, attachment download."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import Api


def test_search_by_name_or_address_with_profile_links(api: Api) -> None:
    api.org.set_options(profile_url="https://crm.example/Account?ID={id}")
    headers = api.sign_in()
    found = api.client.get("/api/v1/contacts", params={"q": "archer"}, headers=headers).json()
    assert found == [
        {
            "id": "101",
            "full_name": "Ann Archer",
            "organization": "Archer & Co",
            "emails": ["ann@members.example", "Ann.Archer@Work.Example"],
            "profile_url": "https://crm.example/Account?ID=101",
        },
    ]
    by_address = api.client.get("/api/v1/contacts", params={"q": "ito.example"}, headers=headers)
    assert [c["id"] for c in by_address.json()] == ["107"]
    assert api.client.get("/api/v1/contacts", params={"q": ""}, headers=headers).status_code == 422


def test_only_the_add_contact_roles_may_add_a_contact(api: Api) -> None:
    new = {"full_name": "Zoe New", "emails": ["zoe@new.example"], "organization": "New Ltd"}
    refused = api.client.post("/api/v1/contacts", json=new, headers=api.sign_in())
    assert refused.status_code == 403
    assert "needs one of the roles SysAdmin" in refused.json()["detail"]
    added = api.client.post("/api/v1/contacts", json=new, headers=api.sign_in("admin"))
    assert added.status_code == 201
    assert added.json()["id"] == "118" and added.json()["emails"] == ["zoe@new.example"]
    # The new contact matches at once.
    body = api.client.post(
        "/api/v1/messages",
        content=b"From: zoe@NEW.example\nSubject: hi\nMessage-ID: <z@new>\n\nhello\n",
        headers={**api.sign_in(), "Content-Type": "message/rfc822"},
    ).json()
    assert body["participants"][0]["status"] == "would_save"
    bad = api.client.post(
        "/api/v1/contacts", json={**new, "emails": ["not an address"]}, headers=api.sign_in("admin")
    )
    assert bad.status_code == 400


def test_a_contact_and_its_timeline_newest_first_paged(api: Api) -> None:
    api.org.file("text-only.eml")
    api.org.file("encoded-words.eml", kind="activity")
    api.org.file("inline-image.eml")
    headers = api.sign_in()
    first = api.client.get("/api/v1/contacts/101", params={"limit": 2}, headers=headers).json()
    assert first["full_name"] == "Ann Archer"
    page = first["timeline"]
    assert (page["total"], page["next_offset"]) == (3, 2)
    assert [(i["kind"], i["subject"]) for i in page["items"]] == [
        ("interaction", "Newsletter draft"),
        ("activity", "Réunion du comité à Zürich"),
    ]
    item = page["items"][0]
    assert (item["created_by"], item["saved_by"]) == ("MANAGER", "jdoe")
    assert item["attachments"][0]["url"] == f"/api/v1/attachments/{item['attachments'][0]['id']}"
    rest = api.client.get("/api/v1/contacts/101", params={"offset": 2}, headers=headers).json()
    assert [i["subject"] for i in rest["timeline"]["items"]] == [
        "Plain text with <angle> brackets & ampersands"
    ]
    assert rest["timeline"]["next_offset"] is None
    assert api.client.get("/api/v1/contacts/999", headers=headers).status_code == 404


def test_attachments_download_as_files_never_rendered(api: Api) -> None:
    api.org.file("encoded-words.eml")
    headers = api.sign_in()
    items = api.client.get("/api/v1/contacts/101", headers=headers).json()["timeline"]["items"]
    pdf = items[0]["attachments"][0]
    answer = api.client.get(pdf["url"], headers=headers)
    assert answer.status_code == 200
    assert answer.content.startswith(b"%PDF-1.4")
    assert answer.headers["x-content-type-options"] == "nosniff"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert quote("Ordre du jour – réunion de novembre.pdf") in disposition
    assert api.client.get(pdf["url"]).status_code == 401
