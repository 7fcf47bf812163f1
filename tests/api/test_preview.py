"""What a save would do now, asked at each change of the user's choices (POST
/messages/{ref}/preview): the same planning as the save, so the review can never promise
what the save refuses."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def preview(api: Api, ref: str, auth: dict[str, str], **choices: Any) -> dict[str, Any]:
    answer = api.client.post(f"/api/v1/messages/{ref}/preview", json=choices, headers=auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def statuses(seen: dict[str, Any]) -> dict[str, str]:
    return {p["address"].lower(): p["status"] for p in seen["participants"]}


def test_over_max_total_emails_says_what_would_happen_and_save_is_refused(api: Api) -> None:
    api.org.set_options(max_total_emails=2)
    auth = api.sign_in()
    ref = api.read("encoded-words.eml", auth)["message_ref"]
    seen = preview(api, ref, auth)
    assert set(statuses(seen).values()) == {"over_limit"}
    over = seen["participants"][0]["reason"]
    assert "allows at most 2 per save" in over and over.endswith("nothing would be saved")
    assert seen["save"] == {"allowed": False, "reason": over}
    # Fewer contacts kept: within the limit, and Save may be pressed.
    fewer = preview(api, ref, auth, contact_ids=["101", "102"])
    assert fewer["save"] == {"allowed": True, "reason": ""}
    assert statuses(fewer)["carla@xn--bcher-kva.example"] == "excluded"


def test_a_contact_added_by_search_shows_what_was_saved_after_the_save(api: Api) -> None:
    auth = api.sign_in()
    ref = api.read("text-only.eml", auth)["message_ref"]
    chosen = {"contact_ids": ["101", "109", "102"]}  # 102 (Bob) found by a search
    before = preview(api, ref, auth, **chosen)
    [bob] = [p for p in before["participants"] if p["contact_id"] == "102"]
    assert (bob["role"], bob["status"]) == ("added", "would_save")
    saved = api.client.post(f"/api/v1/messages/{ref}/interactions", json=chosen, headers=auth)
    assert {r["status"] for r in saved.json()["results"]} == {"saved"}
    after = preview(api, ref, auth, **chosen)
    assert {p["contact_id"]: p["status"] for p in after["participants"] if p["contact_id"]} == {
        "101": "duplicate", "109": "duplicate", "102": "duplicate",
    }  # fmt: skip
    assert after["save"] == {
        "allowed": False, "reason": "This message is already saved for every contact chosen",
    }  # fmt: skip
    # The other kind is another matter: an Activity of it is not saved yet.
    as_activity = preview(api, ref, auth, kind="activity", **chosen)
    assert as_activity["save"]["allowed"]


def test_files_left_out_and_nothing_chosen(api: Api) -> None:
    auth = api.sign_in()
    ref = api.read("encoded-words.eml", auth)["message_ref"]
    seen = preview(api, ref, auth, attachment_ids=["0"])
    assert [(a["name"], a["status"]) for a in seen["attachments"]] == [
        ("Ordre du jour – réunion de novembre.pdf", "would_save"),
        ("notes été.txt", "excluded"),
    ]  # fmt: skip
    nothing = preview(api, ref, auth, contact_ids=[])
    assert nothing["save"]["allowed"] is False
    assert nothing["save"]["reason"] == "No contact is chosen: nothing would be saved"
