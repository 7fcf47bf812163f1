"""Records to check through the API: listed for the options roles, shown on the contact's page,
settled after checking the CRM."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from mailfiler.storage.tables import FilingEntry, Organisation
from tests.api.conftest import Api


def unsure(api: Api, contact_id: str = "101", files: tuple[str, ...] = ()) -> int:
    """A record the CRM never answered for, as a save leaves it."""
    with api.org.service.unit() as session:
        organisation_id = session.scalar(
            select(Organisation.id).where(Organisation.cloud_id == api.org.cloud_id)
        )
        entry = FilingEntry(
            organisation_id=organisation_id, contact_id=contact_id, kind="interaction",
            message_key="<board@members.example>", copy=0, state="unsure", subject="Board",
            saved_by="jdoe", reserved_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
            reason="iMIS did not answer in time",
            missing_files=[{"name": n, "reason": "not sent"} for n in files] or None,
        )  # fmt: skip
        session.add(entry)
        session.flush()
        return entry.id


def test_the_options_roles_list_and_settle_a_record_as_landed(api: Api) -> None:
    number = unsure(api, files=("papers.pdf",))
    admin = api.sign_in("admin")
    [listed] = api.client.get("/api/v1/records/to-check", headers=admin).json()
    assert listed["number"] == number and listed["status"] == "unsure"
    assert listed["reason"] == "iMIS did not answer in time"
    assert listed["missing_files"] == [{"name": "papers.pdf", "reason": "not sent"}]
    settled = api.client.post(
        f"/api/v1/records/to-check/{number}", json={"landed": "CL-42"}, headers=admin
    )
    assert settled.status_code == 200, settled.text
    body = settled.json()
    # It is in the CRM, without its file (never sent): partial, the next save sends it.
    assert (body["status"], body["record_id"]) == ("partial", "CL-42")
    assert "admin found it" in body["reason"]
    again = api.client.post(
        f"/api/v1/records/to-check/{number}", json={"landed": ""}, headers=admin
    )
    assert again.status_code == 422  # a key is at least one character


def test_send_again_and_what_a_staff_member_may_not_do(api: Api) -> None:
    number = unsure(api)
    staff = api.sign_in()
    assert api.client.get("/api/v1/records/to-check", headers=staff).status_code == 403
    assert (
        api.client.post(
            f"/api/v1/records/to-check/{number}", json={"send_again": True}, headers=staff
        ).status_code
        == 403
    )
    admin = api.sign_in("admin")
    both = api.client.post(
        f"/api/v1/records/to-check/{number}",
        json={"landed": "X", "send_again": True},
        headers=admin,
    )
    assert both.status_code == 422
    for huge in (2**31, 10**30):
        assert api.client.post(
            f"/api/v1/records/to-check/{huge}", json={"send_again": True}, headers=admin
        ).status_code in (404, 422)
    sent = api.client.post(
        f"/api/v1/records/to-check/{number}", json={"send_again": True}, headers=admin
    ).json()
    assert sent["status"] == "failed" and "the next save of the message writes it" in sent["reason"]


def test_the_contact_s_page_shows_its_records_to_check(api: Api) -> None:
    unsure(api, "101")
    unsure(api, "102")
    detail = api.client.get("/api/v1/contacts/101", headers=api.sign_in()).json()
    assert [(r["contact_id"], r["status"]) for r in detail["to_check"]] == [("101", "unsure")]
