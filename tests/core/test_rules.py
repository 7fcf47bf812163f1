"""Each of the product page's rules for a participant, alone (core/rules.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailfiler.core.match import Contact, Match
from mailfiler.core.options import Action, Options
from mailfiler.core.people import Participant
from mailfiler.core.rules import (
    MAY,
    WHO,
    Filed,
    May,
    Who,
    allowed_kind,
    contact_found,
    crm_keeps_the_address,
    kept,
    line_chosen,
    may_decides,
    not_filed_before,
    not_removed,
    not_you,
    one_contact,
    who_decides,
    within_max_total,
)

ANN = Contact("101", "Ann Archer", "", ("ann@members.example",))
TWIN = Contact("104", "Dana Twin", "", ("shared@family.example",))
OTHER_TWIN = Contact("105", "Eli Twin", "", ("shared@family.example",))
EVERYONE = Who(lines=None, removed=frozenset(), contact_ids=None, picks={})
ALLOWED = May(Action("allowed"), Options(), 1, {}, "interaction", future=True)


def on(
    line: str, address: str = "ann@members.example", *contacts: Contact, me: bool = False
) -> Match:
    return Match(Participant(line, address, "", me), contacts or (ANN,))  # type: ignore[arg-type]


def test_the_pipelines_are_the_named_steps_in_the_product_page_s_order() -> None:
    assert [s.__name__ for s in WHO] == [
        "line_chosen", "not_you", "not_removed", "contact_found", "one_contact", "kept",
    ]  # fmt: skip
    assert [s.__name__ for s in MAY] == [
        "allowed_kind", "within_max_total", "not_filed_before", "crm_keeps_the_address",
    ]  # fmt: skip


def test_line_chosen() -> None:
    assert line_chosen(on("cc"), EVERYONE) is None
    verdict = line_chosen(on("cc"), replace(EVERYONE, lines=frozenset({"to"})))
    assert verdict is not None and (verdict.status, verdict.reason) == (
        "excluded", "the Cc line is filtered out",
    )  # fmt: skip


@pytest.mark.parametrize(("line", "excluded"), [("from", True), ("bcc", True), ("to", False)])
def test_not_you(line: str, excluded: bool) -> None:
    assert (not_you(on(line, me=True), EVERYONE) is not None) is excluded
    assert not_you(on(line), EVERYONE) is None


def test_not_removed() -> None:
    removed = replace(EVERYONE, removed=frozenset({"ann@members.example"}))
    assert not_removed(on("to"), removed) is not None
    assert not_removed(on("to"), EVERYONE) is None


def test_contact_found() -> None:
    nobody = Match(Participant("to", "x@nowhere.example", ""), ())
    verdict = contact_found(nobody, EVERYONE)
    assert verdict is not None and verdict.status == "no_contact"
    assert contact_found(on("to"), EVERYONE) is None


def test_one_contact_needs_a_pick_or_a_choice_by_name() -> None:
    shared = on("to", "shared@family.example", TWIN, OTHER_TWIN)
    verdict = one_contact(shared, EVERYONE)
    assert verdict is not None and verdict.status == "ambiguous"
    picked = replace(EVERYONE, picks={"shared@family.example": "105"})
    assert one_contact(shared, picked) is None
    assert who_decides(shared, picked).contact == OTHER_TWIN
    by_name = replace(EVERYONE, contact_ids=frozenset({"104"}))
    assert who_decides(shared, by_name).reason == "Dana Twin (104), chosen by you"
    wrong = replace(EVERYONE, picks={"shared@family.example": "999"})
    assert (
        "the picked contact 999 does not hold this address"
        in (one_contact(shared, wrong) or pytest.fail("no verdict")).reason
    )


def test_kept() -> None:
    others = replace(EVERYONE, contact_ids=frozenset({"102"}))
    verdict = kept(on("to"), others)
    assert verdict is not None and verdict.reason == "Ann Archer (101) was not kept for this save"
    assert kept(on("to"), EVERYONE) is None


def test_a_participant_no_step_stops_would_be_saved_saying_how_it_was_found() -> None:
    verdict = who_decides(on("to"), EVERYONE)
    assert (verdict.status, verdict.reason, verdict.contact) == (
        "would_save", "Ann Archer (101), matched by email address", ANN,
    )  # fmt: skip


def test_allowed_kind() -> None:
    refused = replace(ALLOWED, permission=Action("refused", "needs one of the roles Membership"))
    verdict = allowed_kind("101", refused)
    assert verdict is not None and verdict.status == "not_permitted"
    assert allowed_kind("101", ALLOWED) is None


def test_within_max_total_speaks_of_the_save_in_its_own_tense() -> None:
    over = replace(ALLOWED, options=Options(max_total_emails=2), contacts=3)
    review = within_max_total("101", over)
    assert review is not None and review.status == "over_limit"
    assert review.reason.endswith("nothing would be saved")
    saved = within_max_total("101", replace(over, future=False))
    assert saved is not None and saved.reason.endswith("nothing was saved")
    assert within_max_total("101", replace(over, contacts=2)) is None


def test_not_filed_before() -> None:
    def filed(state: str, **more: object) -> May:
        return replace(ALLOWED, filed={"101": Filed(state, "R1", **more)})  # type: ignore[arg-type]

    duplicate = not_filed_before("101", filed("saved"))
    assert duplicate is not None and duplicate.status == "duplicate" and "R1" in duplicate.reason
    unsure = not_filed_before("101", filed("unsure"))
    assert unsure is not None and unsure.status == "unsure"
    partial = not_filed_before("101", filed("partial", missing_files=("a.pdf",)))
    assert (
        partial is not None and partial.status == "would_save" and "without a.pdf" in partial.reason
    )
    allowed = replace(filed("saved"), options=Options(allow_duplicates=True))
    assert not_filed_before("101", allowed) is None
    assert may_decides("101", ALLOWED) is None


def test_an_address_longer_than_the_crm_keeps_is_said_in_the_review_not_refused_by_the_write() -> (
    None
):
    long_address = "a" * 95 + "@members.example"
    may = replace(ALLOWED, addresses={"101": long_address}, crm="iMIS", address_max=100)
    verdict = crm_keeps_the_address("101", may)
    assert verdict is not None and verdict.status == "failed"
    assert "iMIS keeps at most 100 characters" in verdict.reason
    assert "can be saved as an Activity" in verdict.reason
    assert crm_keeps_the_address("101", replace(may, kind="activity")) is None
    assert crm_keeps_the_address("101", replace(may, addresses={"101": "ann@x.example"})) is None
    assert crm_keeps_the_address("101", replace(may, address_max=None)) is None
