from __future__ import annotations

from dataclasses import replace

import pytest

from mailfiler.core.options import (
    EMAIL_ACTIVITY,
    Options,
    activity_action,
    add_contact_action,
    interaction_action,
    may_change_options,
    validate,
)
from mailfiler.errors import BadRequest


def test_options_round_trip_through_their_stored_form() -> None:
    options = Options(profile_url="https://crm.example/c?ID={id}", max_total_emails=7)
    assert Options.from_json(options.to_json()) == options
    assert options.profile_link("42") == "https://crm.example/c?ID=42"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"edition": "basic"}, "edition"),
        ({"max_total_emails": 0}, "at least 1"),
        ({"profile_url": "https://x/"}, "{id}"),
        ({"nonsense": 1}, "unknown option"),
        ({"default_activity_type": "NOPE"}, "no activity type"),
    ],
)
def test_bad_options_are_refused_with_the_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        Options.from_json({**Options().to_json(), **change})


def test_bad_field_mappings_are_refused() -> None:
    data = Options().to_json()
    data["activity_types"][0]["mapping"]["subject"] = "NO_SUCH_FIELD"
    with pytest.raises(BadRequest, match="not one of its fields"):
        Options.from_json(data)
    data = Options().to_json()
    data["activity_types"][0]["mapping"]["weather"] = "NOTE"
    with pytest.raises(BadRequest, match="unknown message token"):
        Options.from_json(data)


def test_what_each_role_may_do() -> None:
    staff = frozenset({"Staff"})
    admin = frozenset({"SysAdmin"})
    options = Options(activity_roles=("Membership",))
    assert interaction_action(options, staff).state == "allowed"
    assert activity_action(options, staff).state == "hidden"
    assert activity_action(Options(edition="professional"), admin).state == "refused"
    assert add_contact_action(options, staff).state == "hidden"
    assert add_contact_action(options, admin).state == "allowed"
    assert may_change_options(options, admin) and not may_change_options(options, staff)


def test_system_activity_types_are_refused_with_the_reason() -> None:
    dues = replace(EMAIL_ACTIVITY, code="DUES", name="Dues")
    with pytest.raises(BadRequest, match="DUES is a system activity type"):
        validate(Options(activity_types=(dues,), default_activity_type="DUES"))


def test_blank_role_entries_are_no_role() -> None:
    options = Options.from_json({"interaction_roles": ["Staff", " ", "", " Staff ", "SysAdmin"]})
    assert options.interaction_roles == ("Staff", "SysAdmin")
