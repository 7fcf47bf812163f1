"""The Options screen over HTTP: read by all, changed only by the "change options" roles."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def _meeting_type() -> dict[str, Any]:
    return {
        "code": "BOARD",
        "name": "Meeting notes",
        "fields": [
            {"name": "DESCRIPTION", "label": "Description"},
            {"name": "UF_1", "label": "Room"},
            {"name": "NOTE", "label": "Notes"},
        ],
        "defaults": {"UF_1": "Board room"},
        "mapping": {"subject": "DESCRIPTION", "body": "NOTE"},
        "roles": [],
    }


def test_everyone_reads_the_options_only_admins_change_them(api: Api) -> None:
    staff = api.sign_in()
    options = api.client.get("/api/v1/options", headers=staff).json()
    assert options["can_change"] is False
    assert options["change_options_roles"] == ["SysAdmin"]
    assert options["activity_types"][0]["code"] == "EMAIL"
    changed = {**options, "max_total_emails": 3, "can_change": None}
    del changed["can_change"]
    refused = api.client.put("/api/v1/options", json=changed, headers=staff)
    assert refused.status_code == 403
    admin = api.sign_in("admin")
    changed["activity_types"] = [*options["activity_types"], _meeting_type()]
    changed["default_activity_type"] = "BOARD"
    changed["allow_duplicates"] = True
    answer = api.client.put("/api/v1/options", json=changed, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["max_total_emails"] == 3 and answer.json()["can_change"] is True
    # The server applies them at once: the activity form is prefilled from the new type.
    body = api.read("text-only.eml", staff)
    meeting = next(t for t in body["activity_types"] if t["code"] == "BOARD")
    assert meeting["default"]
    assert {f["name"]: f["value"] for f in meeting["fields"]}["UF_1"] == "Board room"


def test_options_that_would_break_saving_are_refused_and_change_nothing(api: Api) -> None:
    admin = api.sign_in("admin")
    options = api.client.get("/api/v1/options", headers=admin).json()
    del options["can_change"]
    broken = {
        **options,
        "activity_types": [{**_meeting_type(), "mapping": {"subject": "NOPE"}}],
        "default_activity_type": "BOARD",
    }
    answer = api.client.put("/api/v1/options", json=broken, headers=admin)
    assert answer.status_code == 400 and "not one of its fields" in answer.json()["detail"]
    assert (
        api.client.put(
            "/api/v1/options", json={**options, "edition": "basic"}, headers=admin
        ).status_code
        == 422
    )
    assert (
        api.client.put(
            "/api/v1/options", json={**options, "profile_url": "https://x/"}, headers=admin
        ).status_code
        == 400
    )
    assert (
        api.client.get("/api/v1/options", headers=admin).json()["activity_types"]
        == options["activity_types"]
    )


def test_role_checks_are_enforced_by_the_server(api: Api) -> None:
    admin = api.sign_in("admin")
    options = api.client.get("/api/v1/options", headers=admin).json()
    del options["can_change"]
    options["interaction_roles"] = ["Membership"]
    assert api.client.put("/api/v1/options", json=options, headers=admin).status_code == 200
    staff = api.sign_in()
    body = api.read("text-only.eml", staff)
    assert body["actions"]["interaction"]["state"] == "hidden"
    forced = api.client.post(
        f"/api/v1/messages/{body['message_ref']}/interactions", json={}, headers=staff
    ).json()["results"]
    assert {r["status"] for r in forced} == {"not_permitted"}
    assert api.org.records() == []


def test_a_built_in_organisation_has_no_crm_address_to_aim_anywhere(api: Api) -> None:
    admin = api.sign_in("admin")
    options = api.client.get("/api/v1/options", headers=admin).json()
    del options["can_change"]
    assert options["crm"]["crm"] == "builtin"
    # Sent back as it is: fine.
    assert api.client.put("/api/v1/options", json=options, headers=admin).status_code == 200
    aimed = {**options, "crm": {"url": "https://169.254.169.254", "background_password": "x"}}
    refused = api.client.put("/api/v1/options", json=aimed, headers=admin)
    assert refused.status_code == 400 and "built-in CRM" in refused.json()["detail"]
