"""The product page's rules, decided before anything is written (core.plan)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from mailfiler.core.addresses import address_key
from mailfiler.core.match import Contact, match
from mailfiler.core.message import Address, BodyPart, Message
from mailfiler.core.mime import read_rfc5322
from mailfiler.core.options import Options
from mailfiler.core.people import participants
from mailfiler.core.plan import Capabilities, Choices, Filer, SavePlan, plan, to_line
from mailfiler.core.rules import Filed
from mailfiler.errors import BadRequest
from tests.conftest import fixture_bytes, fixture_contacts


class FakeContacts:
    """contacts_by_address over the fixture contacts, as the built-in CRM would answer."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[Contact]] = {}
        for row in fixture_contacts():
            contact = Contact(row.contact_id, row.full_name, row.organization, row.emails)
            for email in row.emails:
                self.by_key.setdefault(address_key(email), []).append(contact)

    def contacts_by_address(self, keys: Collection[str]) -> Mapping[str, Sequence[Contact]]:
        return {k: self.by_key[k] for k in keys if k in self.by_key}


JDOE = Filer("jdoe", frozenset({"Staff"}), ("jdoe@acme.example",))


def decide(
    message: Message | str,
    options: Options | None = None,
    filer: Filer = JDOE,
    filed: Mapping[str, Filed] | None = None,
    **choices: Any,
) -> SavePlan:
    if isinstance(message, str):
        message = read_rfc5322(fixture_bytes(message))
    people = participants(message, filer.addresses)
    matches = match(people, FakeContacts().contacts_by_address({p.key for p in people}))
    return plan(
        message,
        matches,
        Choices(**choices),
        options=options or Options(),
        filer=filer,
        background_account="MANAGER",
        already_filed=filed,
    )


def statuses(outcome: SavePlan) -> list[tuple[str, str, str]]:
    return [(p.line, p.address, p.status) for p in outcome.participants]


def test_every_matched_contact_gets_one_record_written_by_the_background_account() -> None:
    outcome = decide("encoded-words.eml")
    assert statuses(outcome) == [
        ("from", "ANN@Members.Example", "would_save"),
        ("to", "carla@xn--bcher-kva.example", "would_save"),  # IDN: matches carla@bücher.example
        ("cc", "BOB@MEMBERS.EXAMPLE", "would_save"),  # case never matters
    ]
    assert [r.contact_id for r in outcome.records] == ["101", "103", "102"]
    assert {(r.created_by, r.saved_by) for r in outcome.records} == {("MANAGER", "jdoe")}


def test_the_to_field_is_cut_to_100_characters_between_addresses() -> None:
    outcome = decide("long-lines.eml")
    line = outcome.records[0].to_line
    # Whole addresses only, and what did not fit is counted, within the 100 characters.
    assert line == (
        "bob@members.example; farid@haddad.example; grace@ito.example; hugo@janssen.example; "
        "… and 2 more"
    )
    assert line is not None and len(line) <= 100
    assert any(
        "ines@kovac.example, jon@lund.example did not fit" in note and "… and 2 more" in note
        for note in outcome.notes
    )
    assert to_line((Address("x" * 120 + "@example.org"),)) == "… and 1 more"


def test_a_message_without_a_from_line_says_so() -> None:
    outcome = decide("text-only.eml")
    assert not any("no From line" in note for note in outcome.notes)
    bare = read_rfc5322(b"To: ann@members.example\r\nSubject: anonymous\r\n\r\nHello.\r\n")
    assert any("no From line" in note for note in decide(bare).notes)


def test_attachment_rules_long_names_empty_files_and_same_names() -> None:
    outcome = decide("long-lines.eml")
    files = {(f.name, f.saved_as, f.status) for f in outcome.files}
    long_name = "Board-meeting-papers-for-the-November-2026-session-final-version.pdf"
    assert (long_name, "Board-meeting-papers-for-the-November-2026-ses.pdf", "would_save") in files
    assert ("empty-notes.txt", None, "empty") in files
    assert ("budget.csv", "budget.csv", "would_save") in files
    assert ("budget.csv", "budget (2).csv", "would_save") in files
    saved = outcome.records[0].files
    assert all(len(f.filename) <= 50 for f in saved)
    assert "empty-notes.txt" not in [f.filename for f in saved]
    reasons = {f.name: f.reason for f in outcome.files}
    assert "50 characters" in reasons[long_name]
    assert "staff site" in reasons["empty-notes.txt"]


def test_left_out_attachments_are_excluded_by_their_original_name() -> None:
    outcome = decide("long-lines.eml", skip_attachments=frozenset({"budget.csv"}))
    assert [f.status for f in outcome.files if f.name == "budget.csv"] == ["excluded", "excluded"]
    assert [f.filename for f in outcome.records[0].files] == [
        "Board-meeting-papers-for-the-November-2026-ses.pdf"
    ]


def test_the_whole_message_as_eml_replaces_the_attachments() -> None:
    outcome = decide("long-lines.eml", eml=True)
    assert {f.status for f in outcome.files} == {"in_eml"}
    assert outcome.eml is not None and outcome.eml.saved_as == "Board papers.eml"
    [eml] = outcome.records[0].files
    assert eml.filename == "Board papers.eml"
    assert eml.data == fixture_bytes("long-lines.eml")


def test_unmatched_and_shared_addresses_are_not_saved_and_say_why() -> None:
    outcome = decide("ambiguous.eml")
    by_address = {p.address: p for p in outcome.participants}
    shared = by_address["shared@family.example"]
    assert shared.status == "ambiguous"
    assert "Dan Evans (104)" in shared.reason and "Erin Evans (105)" in shared.reason
    assert "merge these contacts" in shared.reason
    assert [c.id for c in shared.contacts] == ["104", "105"]
    assert by_address["nobody@unknown.example"].status == "no_contact"
    assert [r.contact_id for r in outcome.records] == ["101"]


def test_picking_one_contact_for_a_shared_address() -> None:
    outcome = decide("ambiguous.eml", picks={"shared@family.example": "105"})
    assert sorted(r.contact_id for r in outcome.records) == ["101", "105"]
    wrong = decide("ambiguous.eml", picks={"shared@family.example": "999"})
    shared = wrong.participants[0]
    assert shared.status == "ambiguous" and "999 does not hold this address" in shared.reason


def test_you_appear_only_when_listed_on_to_or_cc_and_bcc_is_kept_when_present() -> None:
    outcome = decide("sent-with-bcc.eml")
    assert statuses(outcome) == [
        ("from", "jdoe@acme.example", "excluded"),
        ("to", "bob@members.example", "would_save"),
        ("to", "JDOE@acme.example", "no_contact"),
        ("cc", "grace@ito.example", "would_save"),
        ("bcc", "ann.archer@work.example", "would_save"),
    ]
    assert [p.is_self for p in outcome.participants] == [True, False, True, False, False]


def test_the_line_filter_excludes_whole_lines() -> None:
    outcome = decide("encoded-words.eml", lines=frozenset({"from", "cc"}))
    assert [p.status for p in outcome.participants] == ["would_save", "excluded", "would_save"]
    assert "To line is filtered out" in outcome.participants[1].reason


def test_removed_entries_and_unkept_contacts_are_excluded() -> None:
    outcome = decide("encoded-words.eml", removed=frozenset({"bob@members.example"}))
    assert [p.status for p in outcome.participants] == ["would_save", "would_save", "excluded"]
    kept = decide("encoded-words.eml", contact_ids=frozenset({"103"}))
    assert [r.contact_id for r in kept.records] == ["103"]


def test_a_contact_on_several_lines_gets_one_record() -> None:
    outcome = decide("same-contact-twice.eml")
    assert [r.contact_id for r in outcome.records] == ["101", "110"]
    work = next(p for p in outcome.participants if p.address == "ann.archer@work.example")
    assert work.status == "would_save" and "also on the From line" in work.reason


def test_max_total_emails_stops_the_whole_save() -> None:
    outcome = decide("many-recipients.eml", Options(max_total_emails=10))
    assert not outcome.records
    assert {p.status for p in outcome.participants} == {"over_limit"}
    assert "13 contacts" in outcome.participants[0].reason
    assert "at most 10" in outcome.participants[0].reason
    assert len(decide("many-recipients.eml", Options(max_total_emails=13)).records) == 13


def test_a_message_filed_before_is_a_duplicate_unless_duplicates_are_allowed() -> None:
    saved = {"101": Filed("saved", "42")}
    outcome = decide("ambiguous.eml", filed=saved)
    ann = outcome.participants[1]
    assert (ann.status, ann.record_id) == ("duplicate", "42")
    assert not outcome.records
    allowed = decide("ambiguous.eml", Options(allow_duplicates=True), filed=saved)
    assert [r.contact_id for r in allowed.records] == ["101"]
    assert allowed.records[0].another_copy


def test_a_record_never_confirmed_is_unsure_not_a_duplicate() -> None:
    outcome = decide("ambiguous.eml", filed={"101": Filed("unsure", "")})
    ann = outcome.participants[1]
    assert ann.status == "unsure" and "may have been written" in ann.reason
    assert "settles it" in ann.reason
    assert not outcome.records


def test_a_record_saved_without_a_file_is_completed_with_that_file_only() -> None:
    partial = {"101": Filed("partial", "42", ("notes été.txt",))}
    outcome = decide("encoded-words.eml", filed=partial)
    [ann] = [p for p in outcome.participants if p.contact_id == "101"]
    assert ann.status == "would_save" and "without notes été.txt" in ann.reason
    completing = next(r for r in outcome.records if r.contact_id == "101")
    assert completing.existing_record_id == "42"
    assert [f.filename for f in completing.files] == ["notes été.txt"]
    others = [r for r in outcome.records if r.contact_id != "101"]
    assert others and all(len(r.files) == 2 and r.existing_record_id is None for r in others)


def test_a_missing_file_this_save_leaves_out_leaves_the_record_partial() -> None:
    partial = {"101": Filed("partial", "42", ("notes été.txt",))}
    outcome = decide(
        "encoded-words.eml", filed=partial, skip_attachments=frozenset({"notes été.txt"})
    )
    [ann] = [p for p in outcome.participants if p.contact_id == "101"]
    assert ann.status == "partial" and "which this save leaves out" in ann.reason
    assert "101" not in [r.contact_id for r in outcome.records]


def test_roles_edition_and_the_hide_switch_refuse_with_a_reason() -> None:
    professional = decide("ambiguous.eml", Options(edition="professional"), kind="activity")
    ann = professional.participants[1]
    assert ann.status == "not_permitted" and "cannot save Activities" in ann.reason
    assert not professional.records
    hidden = decide("ambiguous.eml", Options(hide_interaction=True))
    assert hidden.participants[1].status == "not_permitted"
    roles = decide("ambiguous.eml", Options(interaction_roles=("Membership",)))
    assert "needs one of the roles Membership; yours: Staff" in roles.participants[1].reason
    admin = Filer("boss", frozenset({"membership"}))
    assert decide("ambiguous.eml", Options(interaction_roles=("Membership",)), admin).records


def test_an_interaction_keeps_the_rich_body_cleaned() -> None:
    [record, *_] = decide("inline-image.eml").records
    assert 'src="cid:logo-1@ito.example"' in record.body
    for gone in (
        "<script",
        "document.cookie",
        "tracker.example",
        "onclick",
        "javascript:",
        "<form",
    ):
        assert gone not in record.body
    assert "color:#336699" in record.body.replace(" ", "")
    assert [f.content_id for f in record.files] == ["logo-1@ito.example"]


def test_a_plain_text_message_becomes_escaped_html_in_an_interaction() -> None:
    [record, *_] = decide("text-only.eml").records
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more." in record.body
    assert "<b>" not in record.body


def test_an_activity_is_plain_text_with_fields_from_the_activity_type() -> None:
    [record, *_] = decide("inline-image.eml", kind="activity").records
    assert record.kind == "activity" and record.activity_type == "EMAIL"
    assert record.body == "Our logo is below."
    assert record.fields == {
        "DESCRIPTION": "Newsletter draft",
        "NOTE": "Our logo is below.",
        "TRANSACTION_DATE": "2026-11-05T10:00:00+00:00",  # the instant, with its zone
        "OTHER_PARTICIPANTS": "ann@members.example",
        "SOURCE_CODE": "EMAIL",
    }
    assert record.to_line is None


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (
            "TRANSACTION_DATE",
            "next Tuesday",
            "Activity date (TRANSACTION_DATE): 'next Tuesday' is not a date",
        ),
        ("DESCRIPTION", "x" * 300, "Description (DESCRIPTION): holds at most 255 characters"),
    ],
)
def test_a_typed_field_refuses_a_bad_value_with_its_name(
    field: str, value: str, problem: str
) -> None:
    with pytest.raises(BadRequest, match=re.escape(problem)):
        decide("inline-image.eml", kind="activity", fields={field: value})


def test_a_date_keeps_its_zone() -> None:
    [record, *_] = decide(
        "inline-image.eml", kind="activity", fields={"TRANSACTION_DATE": "2026-11-05T10:00+01:00"}
    ).records
    assert record.fields["TRANSACTION_DATE"] == "2026-11-05T10:00:00+01:00"


def test_html_only_mail_is_turned_into_readable_text_for_an_activity() -> None:
    message = Message(
        subject="Agenda",
        sender=(Address("ann@members.example"),),
        body=(BodyPart(html="<h1>Agenda</h1><ul><li>Welcome</li><li>Budget</li></ul>"),),
    )
    [record] = decide(message, kind="activity").records
    assert "Agenda" in record.body and "* Welcome" in record.body and "<" not in record.body


def test_activity_fields_can_be_overridden_but_only_real_ones() -> None:
    [record, *_] = decide(
        "inline-image.eml", kind="activity", fields={"DESCRIPTION": "Mine"}
    ).records
    assert record.fields["DESCRIPTION"] == "Mine"
    with pytest.raises(BadRequest, match="has no field NOPE"):
        decide("inline-image.eml", kind="activity", fields={"NOPE": "x"})
    with pytest.raises(BadRequest, match="no activity type 'MEETING'"):
        decide("inline-image.eml", kind="activity", activity_type="MEETING")


def test_a_message_without_message_id_has_a_stable_key_from_its_headers() -> None:
    first = read_rfc5322(fixture_bytes("no-message-id.eml"))
    again = read_rfc5322(fixture_bytes("no-message-id.eml"))
    assert first.key == again.key and first.key.startswith("sha256:")
    assert replace(first, subject="other").key != first.key
    assert read_rfc5322(fixture_bytes("text-only.eml")).key == "mid:text-only-1@kovac.example"


def test_nothing_saved_means_no_file_saved_either() -> None:
    outcome = decide("long-lines.eml", lines=frozenset({"bcc"}))
    assert not outcome.records
    assert {f.status for f in outcome.files} == {"excluded", "empty"}


def test_a_display_name_never_decides_a_match() -> None:
    message = Message(
        subject="Hello",
        sender=(Address("someone@elsewhere.example", "Ann Archer"),),
        to=(Address("bob@members.example", "Not Bob At All"),),
    )
    outcome = decide(message)
    assert [p.status for p in outcome.participants] == ["no_contact", "would_save"]
    assert [r.contact_id for r in outcome.records] == ["102"]


def test_what_the_crm_cannot_keep_as_an_interactions_to_is_said_before_the_save() -> None:
    message = read_rfc5322(fixture_bytes("text-only.eml"))
    people = participants(message, JDOE.addresses)
    matches = match(people, FakeContacts().contacts_by_address({p.key for p in people}))
    long_address = "board.secretary.of.the.regional.chapter." * 3 + "x@members.example"
    added = Contact("900", "Long Address", "", (long_address,))
    imis = Capabilities(crm="iMIS", interaction_address_max=100)

    def planned(kind: str, records_too: bool) -> SavePlan:
        return plan(
            message, matches, Choices(kind=kind, contact_ids=frozenset({"900"})),  # type: ignore[arg-type]
            options=Options(), filer=JDOE, background_account="MANAGER", added=[added],
            capabilities=imis, records_too=records_too,
        )  # fmt: skip

    review = planned("interaction", records_too=False)
    [shown] = [p for p in review.participants if p.contact_id == "900"]
    assert shown.status == "failed" and "iMIS keeps at most 100 characters" in shown.reason
    assert planned("interaction", records_too=True).records == ()  # nothing is sent
    assert [r.contact_id for r in planned("activity", records_too=True).records] == ["900"]
